// dockhand-node-gc keeps a dockerd pool node's disk: what builds leave in
// the node's dockerd is outside the kubelet's image garbage collection, and
// Windows dockerd has only the classic builder, whose cache is images, so
// `docker builder prune` reclaims nothing there (moby/moby#42806). It runs
// beside dockerd in each dockerd DaemonSet pod (deploy/base/dockerd-daemonsets.yaml).
//
// Each pass, among images no container uses and none tagged or created
// within --min-age: the images of dockhand builds (also after a build that
// failed or was cancelled, which no step of its own could clean up after),
// dangling images, then the least recently used images while all images take
// more than --keep-storage.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cfg, err := parseFlags(args)
	if errors.Is(err, errHelp) {
		fmt.Print(usage())
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "dockhand-node-gc: %v\n", err)
		return 2
	}
	d, err := newDaemon(cfg.Host)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dockhand-node-gc: %v\n", err)
		return 2
	}
	defer d.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.Once {
		if _, err := runPass(ctx, d, cfg.Options, Uses{}, time.Now(), os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "dockhand-node-gc: %v\n", err)
			return 1
		}
		return 0
	}
	fmt.Printf("node-gc: every %s, --keep-storage=%s, --min-age=%s, on %s\n", cfg.Interval, size(cfg.Options.KeepStorage), cfg.Options.MinAge, cfg.Host)
	// After a failed pass (dockerd starting or restarting, its pipe not
	// there yet) try again soon, backing off to the interval.
	const firstRetry = 5 * time.Second
	retry := firstRetry
	uses := Uses{}
	for {
		wait := cfg.Interval
		if _, err := runPass(ctx, d, cfg.Options, uses, time.Now(), os.Stdout); err != nil {
			if ctx.Err() != nil {
				return 0
			}
			fmt.Fprintf(os.Stderr, "dockhand-node-gc: pass failed, next try in %s: %v\n", min(retry, cfg.Interval), err)
			wait, retry = min(retry, cfg.Interval), retry*2
		} else {
			retry = firstRetry
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(wait):
		}
	}
}
