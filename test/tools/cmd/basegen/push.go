package main

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func push(ctx context.Context, ref string, img v1.Image) error {
	// name.Insecure lets the bed registry speak plain HTTP on any host, not
	// only on the loopback names go-containerregistry already trusts.
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("push %s (is the registry at %s running?): %w", ref, tag.RegistryStr(), err)
	}
	return nil
}
