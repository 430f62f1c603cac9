package nodeagent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestIsolationDecision(t *testing.T) {
	cases := []struct {
		method, path, isolation string
		hyperv                  bool
		want                    isolationVerdict
	}{
		{"POST", "/v1.41/build", "hyperv", false, refuseHyperv},
		{"POST", "/build", "hyperv", false, refuseHyperv},
		{"POST", "/v1.41/build", "HyperV", true, dropIsolation},
		{"POST", "/v1.41/build", "process", false, dropIsolation},
		{"POST", "/v1.41/build", "", false, passUnchanged},
		{"POST", "/v1.41/build", "default", false, passUnchanged},
		{"POST", "/v1.41/build/prune", "hyperv", false, passUnchanged},
		{"GET", "/v1.41/build", "hyperv", false, passUnchanged},
		{"POST", "/v1.41/containers/create", "hyperv", false, passUnchanged},
		{"POST", "/v1.41/build", "bogus", true, passUnchanged},
	}
	for _, tc := range cases {
		if got := isolationDecision(tc.method, tc.path, tc.isolation, tc.hyperv); got != tc.want {
			t.Errorf("isolationDecision(%s %s isolation=%q, hyperv=%v) = %v, want %v", tc.method, tc.path, tc.isolation, tc.hyperv, got, tc.want)
		}
	}
	if got := nodeDirOfPipe("/bed/nodes/node/win-ltsc2022-0/pipes/docker_engine"); got != "/bed/nodes/node/win-ltsc2022-0" {
		t.Errorf("nodeDirOfPipe = %q", got)
	}
	if got := nodeDirOfPipe("/tmp/docker.sock"); got != "" {
		t.Errorf("nodeDirOfPipe of a socket outside a node = %q", got)
	}
}

// Against the bed's real dockerd and the real docker CLI: the bed must be up
// (test/bed/up); skipped, saying so, when its dockerd socket is absent.
func TestEmulatedDockerdHypervOnTheBedDockerd(t *testing.T) {
	bedDir := os.Getenv("BED_DIR")
	if bedDir == "" {
		bedDir, _ = filepath.Abs("../../.bed")
	}
	upstream := filepath.Join(bedDir, "docker", "docker.sock")
	base := os.Getenv("LINUX_BASE_IMAGE")
	if base == "" {
		base = "127.0.0.1:15000/dockhand-test/busybox:latest"
	}
	if _, err := os.Stat(upstream); err != nil {
		t.Skipf("the bed's dockerd is not running (%s): start it with test/bed/up", upstream)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker CLI on PATH")
	}

	nodeDir := filepath.Join(t.TempDir(), "node", "win-test-0")
	listen := filepath.Join(nodeDir, "pipes", "docker_engine")
	if err := os.MkdirAll(filepath.Dir(listen), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logw := &lockedWriter{b: &strings.Builder{}}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- RunEmulatedDockerd(ctx, EmulatedDockerdOptions{Listen: listen, Upstream: upstream}, logw, func() { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("emulated dockerd: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("emulated dockerd did not listen")
	}

	contextDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(contextDir, "Dockerfile"), []byte("FROM "+base+"\nRUN echo built-under-emulated-hyperv\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	docker := func(args ...string) (string, error) {
		cmd := exec.Command("docker", append([]string{"--host=unix://" + listen}, args...)...)
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := docker("build", "--isolation=hyperv", "--force-rm", "--no-cache", contextDir)
	if err == nil || !strings.Contains(out, "a required feature is not installed") || !strings.Contains(out, "win-test-0 has no Hyper-V") {
		t.Fatalf("without the Hyper-V feature the build must be refused with hcs's message, got err=%v:\n%s", err, out)
	}

	if err := os.MkdirAll(filepath.Dir(HypervFeatureFile(nodeDir)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(HypervFeatureFile(nodeDir), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = docker("build", "--isolation=hyperv", "--force-rm", "--no-cache", "--tag=dockhand.invalid/hyperv-emulation:test", contextDir)
	if err != nil || !strings.Contains(out, "built-under-emulated-hyperv") {
		t.Fatalf("with the Hyper-V feature the build must run, got err=%v:\n%s", err, out)
	}
	defer docker("image", "rm", "dockhand.invalid/hyperv-emulation:test")

	// An upgraded (hijacked) connection still works through the request reader.
	out, err = docker("run", "--rm", base, "echo", "attached-through-the-proxy")
	if err != nil || !strings.Contains(out, "attached-through-the-proxy") {
		t.Fatalf("docker run (attach) through the proxy: err=%v:\n%s", err, out)
	}
	if !strings.Contains(logw.String(), "isolation=hyperv on win-test-0: the parameter dropped") {
		t.Errorf("the log should say the isolation was dropped:\n%s", logw.String())
	}
}

// lockedWriter: the emulated dockerd logs from one goroutine per connection.
type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
