package nodeagent

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseEmulatedBuildkitdArgsTakesTheDaemonSetsCommandLine(t *testing.T) {
	// deploy/components/buildkitd-windows-ltsc2022's args, after the node agent's rewrite.
	o, err := ParseEmulatedBuildkitdArgs([]string{
		"--upstream=tcp://127.0.0.1:11234",
		"--addr=unix:///bed/nodes/node/win-ltsc2022-0/pipes/buildkitd",
		"--containerd-worker=true",
		"--containerd-worker-addr=unix:///bed/nodes/node/win-ltsc2022-0/pipes/containerd-containerd",
		"--containerd-worker-namespace=buildkit",
		`--root=C:\ProgramData\buildkitd`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.Listen != "/bed/nodes/node/win-ltsc2022-0/pipes/buildkitd" || o.Upstream != "127.0.0.1:11234" {
		t.Fatalf("got %+v", o)
	}
}

func TestParseEmulatedBuildkitdArgsRefusesAsBuildkitdDoes(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--upstream=tcp://127.0.0.1:1", "--addr=unix:///x", "--no-such-flag=1"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"--upstream=tcp://127.0.0.1:1", "--addr=npipe:////./pipe/buildkitd"}, "was not rewritten"},
		{[]string{"--upstream=tcp://127.0.0.1:1"}, "exactly one --addr"},
		{[]string{"--addr=unix:///x"}, "--upstream"},
	} {
		if _, err := ParseEmulatedBuildkitdArgs(c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.args, err, c.want)
		}
	}
}

func TestEmulatedBuildkitdPassesBytesWhileItRunsAndTakesThePipeAway(t *testing.T) {
	upstream, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer upstream.Close()
	go func() {
		for {
			c, err := upstream.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	sock := filepath.Join(t.TempDir(), "buildkitd")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- RunEmulatedBuildkitd(ctx, EmulatedBuildkitdOptions{Listen: sock, Upstream: upstream.Addr().String()}, io.Discard, func() { close(ready) })
	}()
	<-ready
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("PRI * HTTP/2.0\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "PRI * HTTP/2.0\n" {
		t.Fatalf("echo through the pipe: %q, %v", line, err)
	}
	c.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("did not stop")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("the pipe outlived its daemon: %v", err)
	}
}
