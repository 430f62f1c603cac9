package main

import (
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// namedImage is one tag to push: an image or, for multiversion, an index.
type namedImage struct {
	ref string
	img v1.Image
	idx v1.ImageIndex
}

func (ni namedImage) digest() (v1.Hash, error) {
	if ni.idx != nil {
		return ni.idx.Digest()
	}
	return ni.img.Digest()
}

// windowsImages are the images that need no host binary: every tag of
// nanoserver and servercore, and multiversion:latest.
func windowsImages(repoBase string) ([]namedImage, error) {
	var out []namedImage
	for _, repo := range windowsRepos {
		for _, wb := range repo.tags {
			img, err := windowsImage(repo, wb.windowsBuild)
			if err != nil {
				return nil, err
			}
			out = append(out, namedImage{ref: repoBase + "/" + repo.name + ":" + wb.tag, img: img})
		}
	}
	idx, err := multiversionIndex()
	if err != nil {
		return nil, err
	}
	return append(out, namedImage{ref: repoBase + "/multiversion:latest", idx: idx}), nil
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
	win, err := windowsImages(repoBase)
	if err != nil {
		return nil, err
	}
	out := append([]namedImage{{ref: repoBase + "/busybox:latest", img: bb}}, win...)
	for _, wb := range emulatedWindowsBusyboxTags {
		img, err := emulatedWindowsBusyboxImage(bin, applets, wb.windowsBuild)
		if err != nil {
			return nil, err
		}
		out = append(out, namedImage{ref: repoBase + "/emulated-windows-busybox:" + wb.tag, img: img})
	}
	return out, nil
}
