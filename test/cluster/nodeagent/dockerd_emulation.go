package nodeagent

// EMULATED dockerd — this is not a Docker engine.
//
// On a real Windows node dockerd runs as a HostProcess container of the
// dockerd DaemonSets dockhand ships (deploy/base/dockerd-daemonsets.yaml) and
// serves the named pipe \\.\pipe\docker_engine; a node without that pod has
// no pipe, and builds sent there fail to connect. The bed reproduces that
// much: the image catalogue maps the DaemonSet's image
// (ghcr.io/dockhand-dev/dockerd-hostprocess) to `testcluster emulated-dockerd`,
// which the node agent runs like any container, with the pipe rewritten to
// the node's socket (<BED_DIR>/nodes/node/<node>/pipes/docker_engine). It
// listens there while it runs and proxies every connection byte for byte to
// the bed's one real dockerd, so the API answers truthfully (Linux dockerd
// 20.10.24, API 1.41), hijacked connections (attach, build sessions) work,
// and the socket is gone when the pod is.
//
// What it is not: a Windows engine, or one engine per node. Every node's
// proxy reaches the same daemon, so an image built "on" one node is visible
// on all of them, and containers run as Linux containers.
//
// Isolation (the one request it reads, hyperv_emulation.go): Linux dockerd
// refuses every `docker build --isolation` but "default", and a Windows
// dockerd accepts process and hyperv, then fails a hyperv build on a host
// without the Hyper-V feature. So the proxy reads each request's line and
// query: a build asking for isolation hyperv is refused as a Windows host
// without the feature refuses it, unless the node has the EMULATED feature
// (the file node/<node>/windows-features/Microsoft-Hyper-V), in which case
// the isolation parameter is dropped and the Linux dockerd builds it (as a
// Linux container: no utility VM here).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// EmulatedDockerdOptions are the flags of `testcluster emulated-dockerd`.
type EmulatedDockerdOptions struct {
	// Listen is the unix socket path to serve (dockerd's --host, after the
	// node agent rewrote the pipe to the node's socket).
	Listen string
	// Upstream is the bed dockerd's unix socket.
	Upstream string
}

// ParseEmulatedDockerdArgs takes dockerd's command line: --host/-H
// (unix:// or, rewritten by the agent, the node's pipe socket) and the bed's
// --upstream; dockerd's other flags (--data-root, --exec-root, --pidfile,
// --log-level, …) are accepted and ignored.
func ParseEmulatedDockerdArgs(args []string) (EmulatedDockerdOptions, error) {
	var o EmulatedDockerdOptions
	var hosts []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(a, "=")
		switch name {
		case "--host", "-H", "--upstream":
			if !hasValue {
				if i+1 >= len(args) {
					return o, fmt.Errorf("%s needs a value", name)
				}
				i++
				value = args[i]
			}
			if name == "--upstream" {
				o.Upstream = strings.TrimPrefix(value, "unix://")
			} else {
				hosts = append(hosts, value)
			}
		}
	}
	if len(hosts) != 1 {
		return o, fmt.Errorf("EMULATED dockerd serves exactly one --host, got %q", hosts)
	}
	h := hosts[0]
	switch {
	case strings.HasPrefix(h, "unix://"):
		o.Listen = strings.TrimPrefix(h, "unix://")
	case strings.HasPrefix(h, "npipe://"):
		return o, fmt.Errorf("--host %s was not rewritten to a local socket: the node agent does that for HostProcess containers on Windows nodes", h)
	default:
		return o, fmt.Errorf("--host %s: EMULATED dockerd listens on unix sockets only", h)
	}
	if o.Upstream == "" {
		return o, errors.New("--upstream (the bed dockerd's socket) is required")
	}
	return o, nil
}

// RunEmulatedDockerd serves o.Listen until ctx ends, then removes the socket.
// ready (may be nil) is called once it listens.
func RunEmulatedDockerd(ctx context.Context, o EmulatedDockerdOptions, log io.Writer, ready func()) error {
	banner := fmt.Sprintf("EMULATED dockerd (test bed, not a Docker engine): API listen on %s, every connection proxied to the bed dockerd at unix://%s", o.Listen, o.Upstream)
	return servePipe(ctx, "dockerd", o.Listen, banner, log, ready, func(c net.Conn) {
		proxyRequests(ctx, c, o.Upstream, nodeDirOfPipe(o.Listen), log)
	})
}

// servePipe listens on a node's pipe socket until ctx ends, hands each
// connection to handle, then removes the socket: the pipe exists exactly
// while the daemon's pod runs, as on a Windows node.
func servePipe(ctx context.Context, daemon, listen, banner string, log io.Writer, ready func(), handle func(net.Conn)) error {
	// A socket left by a killed predecessor would make Listen fail; nothing
	// can be listening on it while this pod's container is the node's daemon.
	_ = os.Remove(listen)
	ln, err := net.Listen("unix", listen)
	if err != nil {
		return err
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(true)
	fmt.Fprintln(log, banner)
	if ready != nil {
		ready()
	}
	var conns sync.WaitGroup
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			handle(c)
		}()
	}
	_ = os.Remove(listen)
	fmt.Fprintf(log, "EMULATED %s: stopping, socket removed\n", daemon)
	// The daemon waits for its open requests on shutdown only briefly.
	done := make(chan struct{})
	go func() { conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	return nil
}
