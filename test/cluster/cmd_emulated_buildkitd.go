package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"dockhand.dev/test/cluster/nodeagent"
)

func init() {
	register("emulated-buildkitd", "EMULATED buildkitd for Windows nodes: serves --addr (the node's pipe socket) as a byte-for-byte pass-through to the bed buildkitd (--upstream tcp://host:port); buildkitd's other flags are checked and ignored", runEmulatedBuildkitd)
}

// runEmulatedBuildkitd is the entrypoint the image catalogue gives the
// buildkitd-windows DaemonSets' image; see nodeagent/buildkitd_emulation.go.
func runEmulatedBuildkitd(args []string) error {
	opts, err := nodeagent.ParseEmulatedBuildkitdArgs(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return nodeagent.RunEmulatedBuildkitd(ctx, opts, os.Stderr, nil)
}
