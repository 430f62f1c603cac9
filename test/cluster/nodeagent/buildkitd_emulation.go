package nodeagent

// EMULATED buildkitd for Windows nodes — this is not BuildKit.
//
// On a real Windows node the buildkitd-windows DaemonSet
// (deploy/components/buildkitd-windows-<version>) runs buildkitd.exe as a
// HostProcess container over the node's containerd and serves gRPC on the
// named pipe \\.\pipe\buildkitd; build Jobs of the buildkit-windows builder
// mount that pipe and run buildctl. The bed reproduces the pipe: the image
// catalogue maps the DaemonSet's image to `testcluster emulated-buildkitd`,
// which takes buildkitd's command line (its --addr rewritten by the node
// agent to the node's pipe socket), refuses a flag buildkitd does not have as
// buildkitd's CLI does, listens on the socket while the pod runs and passes
// every connection byte for byte to the bed's one Linux buildkitd
// (--upstream). The gRPC API is BuildKit's own, so buildctl's requests and
// the answers are real; a node without the pod has no pipe, and buildctl
// fails to connect there.
//
// What it is not: buildkitd.exe, a containerd worker, or one daemon per node.
// A Windows RUN reaches the Linux buildkitd, which runs it as a Linux process
// in the image's Files/ tree (no Windows kernel, no cmd.exe: see
// basegen's emulated-windows-busybox); the worker the API reports is the
// bed's linux/amd64 one.

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
)

// EmulatedBuildkitdOptions are the flags of `testcluster emulated-buildkitd`.
type EmulatedBuildkitdOptions struct {
	// Listen is the unix socket path to serve (buildkitd's --addr, after the
	// node agent rewrote the pipe to the node's socket).
	Listen string
	// Upstream is the bed buildkitd's TCP address, host:port.
	Upstream string
}

// buildkitdFlags are buildkitd v0.34.2's flags (cmd/buildkitd/main.go) that
// take a value; buildkitdSwitches those that may stand alone. The emulation
// accepts them and reads only --addr.
var (
	buildkitdFlags = map[string]bool{
		"--addr": true, "--config": true, "--root": true, "--group": true, "--log-format": true,
		"--tlscert": true, "--tlskey": true, "--tlscacert": true, "--allow-insecure-entitlement": true,
		"--containerd-worker": true, "--containerd-worker-addr": true, "--containerd-worker-namespace": true,
		"--containerd-worker-snapshotter": true, "--containerd-worker-net": true, "--containerd-worker-labels": true,
		"--containerd-worker-platform": true, "--containerd-worker-gc": true, "--containerd-worker-gc-keepstorage": true,
		"--containerd-cni-config-path": true, "--containerd-cni-binary-dir": true, "--containerd-cni-pool-size": true,
		"--oci-worker": true, "--otel-socket-path": true, "--cdi-spec-dir": true,
	}
	buildkitdSwitches = map[string]bool{
		"--debug": true, "--trace": true, "--rootless": true, "--containerd-worker": true, "--oci-worker": true,
		"--containerd-worker-gc": true, "--containerd-worker-rootless": true, "--save-cni-state": true,
	}
)

// ParseEmulatedBuildkitdArgs takes buildkitd's command line plus the bed's
// --upstream. An unknown flag is refused in the words of buildkitd's CLI
// (urfave/cli: "flag provided but not defined: -x").
func ParseEmulatedBuildkitdArgs(args []string) (EmulatedBuildkitdOptions, error) {
	var o EmulatedBuildkitdOptions
	var addrs []string
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(args[i], "=")
		switch {
		case name == "--upstream":
			if !hasValue {
				if i+1 >= len(args) {
					return o, fmt.Errorf("--upstream needs a value")
				}
				i++
				value = args[i]
			}
			o.Upstream = strings.TrimPrefix(value, "tcp://")
		case buildkitdFlags[name]:
			if !hasValue && !buildkitdSwitches[name] {
				if i+1 >= len(args) {
					return o, fmt.Errorf("flag needs an argument: %s", name)
				}
				i++
				value = args[i]
			}
			if name == "--addr" {
				addrs = append(addrs, value)
			}
		case buildkitdSwitches[name]:
		default:
			return o, fmt.Errorf("Incorrect Usage: flag provided but not defined: -%s", strings.TrimLeft(name, "-"))
		}
	}
	if len(addrs) != 1 {
		return o, fmt.Errorf("EMULATED buildkitd serves exactly one --addr, got %q", addrs)
	}
	switch a := addrs[0]; {
	case strings.HasPrefix(a, "unix://"):
		o.Listen = strings.TrimPrefix(a, "unix://")
	case strings.HasPrefix(a, "npipe://"):
		return o, fmt.Errorf("--addr %s was not rewritten to a local socket: the node agent does that for HostProcess containers on Windows nodes", a)
	default:
		return o, fmt.Errorf("--addr %s: EMULATED buildkitd listens on its named pipe (a unix socket) only", a)
	}
	if o.Upstream == "" {
		return o, fmt.Errorf("--upstream (the bed buildkitd's tcp://host:port) is required")
	}
	return o, nil
}

// RunEmulatedBuildkitd serves o.Listen until ctx ends, then removes the
// socket. ready (may be nil) is called once it listens.
func RunEmulatedBuildkitd(ctx context.Context, o EmulatedBuildkitdOptions, log io.Writer, ready func()) error {
	banner := fmt.Sprintf("EMULATED buildkitd (test bed, not BuildKit on Windows): gRPC on %s, every connection passed to the bed buildkitd at tcp://%s", o.Listen, o.Upstream)
	return servePipe(ctx, "buildkitd", o.Listen, banner, log, ready, func(c net.Conn) {
		defer c.Close()
		var d net.Dialer
		up, err := d.DialContext(ctx, "tcp", o.Upstream)
		if err != nil {
			fmt.Fprintf(log, "EMULATED buildkitd: upstream %s: %v\n", o.Upstream, err)
			return
		}
		defer up.Close()
		var wg sync.WaitGroup
		wg.Add(2)
		// Each direction ends by half-closing the other side, so a finished
		// stream reaches its peer as EOF (gRPC over HTTP/2 needs no more).
		go func() {
			defer wg.Done()
			_, _ = io.Copy(up, c)
			_ = up.(*net.TCPConn).CloseWrite()
		}()
		go func() {
			defer wg.Done()
			_, _ = io.Copy(c, up)
			if uc, ok := c.(*net.UnixConn); ok {
				_ = uc.CloseWrite()
			}
		}()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
		}
	})
}
