package main

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// versionFile is the file each multiversion entry adds on top of its
// nanoserver base; its body is the entry's os.version (CRLF-terminated, like
// osversion.txt). In a layer tar it is Files/Windows/dockhand-base-version.txt,
// in the container C:\Windows\dockhand-base-version.txt.
const versionFile = "Files/Windows/dockhand-base-version.txt"

// multiversionBuilds are the entries of the multiversion index, in index order.
var multiversionBuilds = []windowsBuild{build2019, build2022, build2025}

// multiversionImage is one entry: the nanoserver image of that build plus a
// second layer holding versionFile, as .NET and PowerShell images put their
// own layers on a nanoserver of each Windows build.
func multiversionImage(wb windowsBuild) (v1.Image, error) {
	base, err := windowsImage(nanoserver, wb)
	if err != nil {
		return nil, err
	}
	b, err := windowsLayoutTar(map[string][]byte{versionFile: []byte(wb.osVersion + "\r\n")})
	if err != nil {
		return nil, err
	}
	layer, err := layerFromTar(b)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "basegen", Comment: "dockhand-base-version " + wb.osVersion},
	})
	if err != nil {
		return nil, fmt.Errorf("multiversion %s: %w", wb.osVersion, err)
	}
	return img, nil
}

// multiversionIndex is a Docker manifest list (what MCR serves for
// mcr.microsoft.com/dotnet/* and powershell) with one windows/amd64 entry per
// Windows build, each naming its os.version in the platform, so the only
// thing that tells the entries apart is platform.os.version. No Linux entry.
func multiversionIndex() (v1.ImageIndex, error) {
	list := &manifestList{
		manifest: v1.IndexManifest{SchemaVersion: 2, MediaType: types.DockerManifestList},
		images:   map[v1.Hash]v1.Image{},
	}
	for _, wb := range multiversionBuilds {
		img, err := multiversionImage(wb)
		if err != nil {
			return nil, err
		}
		desc, err := partial.Descriptor(img)
		if err != nil {
			return nil, err
		}
		// go-containerregistry fills in artifactType (the config's media
		// type); MCR's manifest lists carry no such field, so neither do these.
		desc.ArtifactType = ""
		desc.Platform = &v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: wb.osVersion}
		list.manifest.Manifests = append(list.manifest.Manifests, *desc)
		list.images[desc.Digest] = img
	}
	raw, err := json.Marshal(list.manifest)
	if err != nil {
		return nil, err
	}
	list.raw = raw
	return list, nil
}

// manifestList is a v1.ImageIndex over a manifest written here byte for byte
// (mutate.AppendManifests would add the artifactType).
type manifestList struct {
	manifest v1.IndexManifest
	raw      []byte
	images   map[v1.Hash]v1.Image
}

func (l *manifestList) MediaType() (types.MediaType, error) { return l.manifest.MediaType, nil }
func (l *manifestList) Digest() (v1.Hash, error)            { return partial.Digest(l) }
func (l *manifestList) Size() (int64, error)                { return partial.Size(l) }
func (l *manifestList) RawManifest() ([]byte, error)        { return l.raw, nil }
func (l *manifestList) IndexManifest() (*v1.IndexManifest, error) {
	return l.manifest.DeepCopy(), nil
}

func (l *manifestList) Image(h v1.Hash) (v1.Image, error) {
	if img, ok := l.images[h]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("manifest list has no image %s", h)
}

func (l *manifestList) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("manifest list has no index %s", h)
}
