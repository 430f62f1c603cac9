package main

import (
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

type namedImage struct {
	ref string
	img v1.Image
}

// allImages is the full set the bed needs; repoBase is "<registry>/<prefix>".
func allImages(repoBase, busyboxPath string) ([]namedImage, error) {
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return nil, fmt.Errorf("read busybox binary (install Debian's busybox-static or pass --busybox): %w", err)
	}
	applets, err := listApplets(busyboxPath)
	if err != nil {
		return nil, err
	}
	bb, err := busyboxImage(bin, applets)
	if err != nil {
		return nil, err
	}
	out := []namedImage{{ref: repoBase + "/busybox:latest", img: bb}}
	for _, wb := range windowsBases {
		img, err := nanoserverImage(wb)
		if err != nil {
			return nil, err
		}
		out = append(out, namedImage{ref: repoBase + "/nanoserver:" + wb.tag, img: img})
	}
	return out, nil
}
