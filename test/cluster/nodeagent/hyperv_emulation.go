package nodeagent

// EMULATED Hyper-V isolation of a Windows node's dockerd (part of the
// Windows node EMULATION; see dockerd_emulation.go).
//
// A Windows dockerd runs `docker build --isolation=hyperv` by starting each
// RUN step's container in a utility VM, which needs the Hyper-V feature on
// the host (and nested virtualization when the host is itself a VM); without
// it the build fails when its first container is created: hcs reports "The
// virtual machine could not be started because a required feature is not
// installed." The bed's engine is a Linux dockerd, which refuses any
// isolation but "default" ("Unsupported isolation"), so the proxy reads the
// request line of every API call and decides for it:
//
//   - a build with isolation=hyperv on a node WITHOUT the emulated feature:
//     refused, 500 with hcs's message, before the Linux dockerd sees it;
//   - with the feature: the isolation parameter is dropped and the build runs
//     on the Linux dockerd (as a Linux container: there is no utility VM);
//   - isolation=process (a Windows dockerd's own default): dropped too;
//   - everything else passes unchanged, byte for byte after its request.
//
// The feature is a file, node/<node>/windows-features/Microsoft-Hyper-V
// under the node agent's --dir, that a test creates and removes: a real
// node's feature is a fact of its host, not of its Kubernetes labels, so a
// node can be labelled Hyper-V capable and still refuse.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// HypervFeatureFile is where the emulation keeps whether a node has Hyper-V.
func HypervFeatureFile(nodeDir string) string {
	return filepath.Join(nodeDir, "windows-features", "Microsoft-Hyper-V")
}

// nodeDirOfPipe turns <dir>/node/<node>/pipes/docker_engine into
// <dir>/node/<node>; "" when the socket is elsewhere (a dockerd not on an
// emulated Windows node has no Windows features).
func nodeDirOfPipe(listen string) string {
	pipes := filepath.Dir(listen)
	if filepath.Base(pipes) != "pipes" {
		return ""
	}
	return filepath.Dir(pipes)
}

// hypervMissing is hcs's error for a Hyper-V container on a host without the
// feature (HCS_E_SERVICE_NOT_AVAILABLE's text as dockerd relays it).
const hypervMissing = "hcs::CreateComputeSystem: The virtual machine could not be started because a required feature is not installed. (EMULATED Windows node: %s has no Hyper-V; isolation=hyperv needs the Hyper-V feature on the host, and nested virtualization on a VM)"

var buildPath = regexp.MustCompile(`^(/v[0-9.]+)?/build$`)

type isolationVerdict int

const (
	passUnchanged isolationVerdict = iota
	dropIsolation
	refuseHyperv
)

// isolationDecision is the emulation's whole policy, pure for its tests.
func isolationDecision(method, path, isolation string, hasHyperv bool) isolationVerdict {
	if method != http.MethodPost || !buildPath.MatchString(path) || isolation == "" || isolation == "default" {
		return passUnchanged
	}
	switch strings.ToLower(isolation) {
	case "hyperv":
		if !hasHyperv {
			return refuseHyperv
		}
		return dropIsolation
	case "process":
		return dropIsolation
	}
	// Anything else the Linux dockerd refuses, as a Windows one would.
	return passUnchanged
}

// proxyRequests forwards one client connection to the bed dockerd, reading
// each request (the docker CLI does not pipeline, so a request is read only
// after the previous answer went back) and copying answers raw. After an
// upgraded request (attach, build sessions) both directions are raw.
func proxyRequests(ctx context.Context, client net.Conn, upstream, nodeDir string, log io.Writer) {
	defer client.Close()
	var d net.Dialer
	up, err := d.DialContext(ctx, "unix", upstream)
	if err != nil {
		fmt.Fprintf(log, "EMULATED dockerd: bed dockerd unreachable: %v\n", err)
		return
	}
	defer up.Close()
	stop := context.AfterFunc(ctx, func() {
		client.Close()
		up.Close()
	})
	defer stop()

	var answers sync.WaitGroup
	answers.Add(1)
	go func() {
		defer answers.Done()
		_, _ = io.Copy(client, up)
		if cw, ok := client.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	defer answers.Wait()
	closeUp := func() {
		if cw, ok := up.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}

	in := bufio.NewReader(client)
	for {
		req, err := http.ReadRequest(in)
		if err != nil {
			closeUp()
			return
		}
		query := req.URL.Query()
		switch isolationDecision(req.Method, req.URL.Path, query.Get("isolation"), nodeDir != "" && fileExists(HypervFeatureFile(nodeDir))) {
		case refuseHyperv:
			_, _ = io.Copy(io.Discard, req.Body)
			node := filepath.Base(nodeDir)
			fmt.Fprintf(log, "EMULATED dockerd: build with isolation=hyperv refused: %s has no Hyper-V feature\n", node)
			body := fmt.Sprintf(`{"message":%q}`+"\n", fmt.Sprintf(hypervMissing, node))
			_, _ = fmt.Fprintf(client, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
			up.Close()
			return
		case dropIsolation:
			fmt.Fprintf(log, "EMULATED dockerd: build with isolation=%s on %s: the parameter dropped, built by the Linux dockerd without a utility VM\n", query.Get("isolation"), filepath.Base(nodeDir))
			query.Del("isolation")
			req.URL.RawQuery = query.Encode()
		}
		upgrade := req.Header.Get("Upgrade") != ""
		// Write re-frames the body as read (Content-Length or chunked).
		if err := req.Write(up); err != nil {
			return
		}
		if upgrade {
			_, _ = io.Copy(up, in)
			closeUp()
			return
		}
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
