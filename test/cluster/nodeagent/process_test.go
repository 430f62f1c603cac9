package nodeagent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/cri-client/pkg/logs"
)

func runTestProcess(t *testing.T, script string) (*process, string) {
	t.Helper()
	dir := t.TempDir()
	spec := processSpec{
		argv:    []string{"sh", "-c", script},
		env:     []string{"PATH=" + os.Getenv("PATH"), "GREETING=hello"},
		dir:     dir,
		logPath: filepath.Join(dir, "c.log"),
		pidPath: filepath.Join(dir, "pid"),
	}
	p, err := startProcess(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p, spec.logPath
}

func waitExit(t *testing.T, p *process) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("process did not exit")
	}
}

func TestProcessRunsWithEnvDirAndLogs(t *testing.T) {
	p, logPath := runTestProcess(t, `echo "$GREETING from $(pwd)"; echo err >&2; exit 3`)
	waitExit(t, p)
	if p.exitCode != 3 {
		t.Errorf("exit code = %d", p.exitCode)
	}
	var out, errOut strings.Builder
	if err := logs.ReadLogs(context.Background(), logPath, "", &logs.LogOptions{}, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "hello from /") || errOut.String() != "err\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}
	if _, err := os.Stat(p.pidPath); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
}

func TestProcessGroupIsSignalled(t *testing.T) {
	// The child sleep is in the same group: SIGTERM to the group ends both,
	// and the exit code reads as a runtime's (128+15).
	p, _ := runTestProcess(t, `sleep 30 & wait`)
	time.Sleep(200 * time.Millisecond)
	killWithGrace(p, 5*time.Second)
	waitExit(t, p)
	if p.exitCode != 143 {
		t.Errorf("exit code = %d, want 143", p.exitCode)
	}
}

func TestProcessGraceEndsInSIGKILL(t *testing.T) {
	p, _ := runTestProcess(t, `trap "" TERM; while :; do sleep 0.1; done`)
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	killWithGrace(p, 500*time.Millisecond)
	waitExit(t, p)
	if p.exitCode != 137 || time.Since(start) > 5*time.Second {
		t.Errorf("exit code = %d after %s, want 137", p.exitCode, time.Since(start))
	}
}

func TestLookPathUsesContainerPath(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "mytool")
	os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755)
	if got, err := lookPath("mytool", "/nonexistent:"+dir, ""); err != nil || got != tool {
		t.Errorf("lookPath = %q, %v", got, err)
	}
	if _, err := lookPath("mytool", "/nonexistent", ""); err == nil || !strings.Contains(err.Error(), "--path") {
		t.Errorf("missing tool error = %v", err)
	}
	if _, err := startProcess(processSpec{argv: []string{"definitely-not-installed"}, env: []string{"PATH=/nonexistent"}, logPath: filepath.Join(dir, "l")}); err == nil {
		t.Error("start of a missing binary succeeded")
	}
}

func TestKillLeftoverProcessGroup(t *testing.T) {
	p, _ := runTestProcess(t, `sleep 30`)
	time.Sleep(100 * time.Millisecond)
	copyPath := p.pidPath + ".copy"
	b, err := os.ReadFile(p.pidPath)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(copyPath, b, 0o644)
	killed, err := killLeftoverProcessGroup(copyPath)
	if !killed || err != nil {
		t.Fatalf("killed = %v, err = %v", killed, err)
	}
	waitExit(t, p)
	if p.exitCode != 128+int32(syscall.SIGKILL) {
		t.Errorf("exit code = %d", p.exitCode)
	}
	// A pid file whose process is gone (or whose PID was reused) kills nothing.
	os.WriteFile(copyPath, b, 0o644)
	if killed, _ := killLeftoverProcessGroup(copyPath); killed {
		t.Error("killed a process that no longer exists")
	}
	if _, err := os.Stat(copyPath); !os.IsNotExist(err) {
		t.Error("pid file not removed")
	}
}
