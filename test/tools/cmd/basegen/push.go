package main

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// push writes an image, or an index with every image it lists, under ref.
func push(ctx context.Context, ni namedImage) error {
	ref := ni.ref
	// name.Insecure lets the bed registry speak plain HTTP on any host, not
	// only on the loopback names go-containerregistry already trusts.
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	if ni.idx != nil {
		err = remote.WriteIndex(tag, ni.idx, remote.WithContext(ctx))
	} else {
		err = remote.Write(tag, ni.img, remote.WithContext(ctx))
	}
	if err != nil {
		return fmt.Errorf("push %s (is the registry at %s running?): %w", ref, tag.RegistryStr(), err)
	}
	return nil
}
