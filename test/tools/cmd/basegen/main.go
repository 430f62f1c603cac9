// Command basegen makes the base images the test bed builds FROM, because the
// bed cannot pull from Docker Hub or MCR: a real busybox image from Debian's
// busybox-static, synthetic Windows nanoserver and servercore images (MCR's
// real tag sets) whose config and layer layout are what BuildKit and dockerd
// check, without Windows bits, and a multi-version Windows manifest list.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	registry := flag.String("registry", "127.0.0.1:15000", "registry host:port to push to (plain HTTP is allowed)")
	prefix := flag.String("prefix", "dockhand-test", "repository namespace the images are pushed under")
	busybox := flag.String("busybox", "/bin/busybox", "static busybox binary to package (Debian: apt-get install busybox-static)")
	dryRun := flag.Bool("dry-run", false, "build the images and print their digests without pushing")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *registry, *prefix, *busybox, *dryRun); err != nil {
		fmt.Fprintln(os.Stderr, "basegen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, registry, prefix, busyboxPath string, dryRun bool) error {
	images, err := allImages(registry+"/"+prefix, busyboxPath)
	if err != nil {
		return err
	}
	for _, ni := range images {
		digest, err := ni.digest()
		if err != nil {
			return fmt.Errorf("digest of %s: %w", ni.ref, err)
		}
		if !dryRun {
			if err := push(ctx, ni); err != nil {
				return err
			}
		}
		fmt.Printf("%s@%s\n", ni.ref, digest)
	}
	return nil
}
