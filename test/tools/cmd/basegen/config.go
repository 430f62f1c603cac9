package main

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

type platform struct {
	os, arch, osVersion string
}

// singleLayerImage is a Docker schema2 image (what MCR and Docker Hub serve)
// with one layer, a fixed creation time and the given platform and run config.
func singleLayerImage(layer v1.Layer, p platform, run v1.Config, comment string) (v1.Image, error) {
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "basegen", Comment: comment},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.OSVersion = p.os, p.arch, p.osVersion
	cf.Config = run
	cf.Created = v1.Time{Time: epoch}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("set %s/%s config: %w", p.os, p.arch, err)
	}
	return img, nil
}
