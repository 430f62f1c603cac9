package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"dockhand.dev/test/cluster/nodeagent"
)

func init() {
	register("emulated-dockerd", "EMULATED dockerd for Windows nodes: serves --host (the node's pipe socket) as a byte-for-byte proxy to the bed dockerd (--upstream); dockerd's other flags are ignored", runEmulatedDockerd)
}

// runEmulatedDockerd is the entrypoint the image catalogue gives the dockerd
// DaemonSets' image; see nodeagent/dockerd_emulation.go.
func runEmulatedDockerd(args []string) error {
	opts, err := nodeagent.ParseEmulatedDockerdArgs(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return nodeagent.RunEmulatedDockerd(ctx, opts, os.Stderr, nil)
}
