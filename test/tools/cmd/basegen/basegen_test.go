package main

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func readTar(t *testing.T, b []byte) []*tar.Header {
	t.Helper()
	var hs []*tar.Header
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hs
		}
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
}

func TestBusyboxTarLinksAppletsToBinary(t *testing.T) {
	b, err := busyboxTar([]byte("ELF"), []string{"sh", "ls", "busybox", "["})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*tar.Header{}
	for _, h := range readTar(t, b) {
		got[h.Name] = h
	}
	for _, applet := range []string{"sh", "ls", "["} {
		h := got["bin/"+applet]
		if h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "busybox" {
			t.Errorf("bin/%s = %+v, want symlink to busybox", applet, h)
		}
	}
	if h := got["bin/busybox"]; h == nil || h.Typeflag != tar.TypeReg || h.Mode != 0o755 {
		t.Errorf("bin/busybox = %+v, want executable file", h)
	}
	if got["etc/passwd"] == nil || got["tmp/"] == nil {
		t.Error("missing etc/passwd or tmp/")
	}
}

func TestWindowsTarUsesFilesAndHivesRoots(t *testing.T) {
	b, err := windowsTar("10.0.20348.2700", servercore.extra)
	if err != nil {
		t.Fatal(err)
	}
	hs := readTar(t, b)
	if len(hs) == 0 {
		t.Fatal("empty layer")
	}
	for _, h := range hs {
		root, _, _ := strings.Cut(h.Name, "/")
		if root != "Files" && root != "Hives" {
			t.Errorf("%s is outside Files/ and Hives/", h.Name)
		}
		want := attrArchive
		if h.Typeflag == tar.TypeDir {
			want = attrDirectory
		}
		if got := h.PAXRecords[paxFileAttr]; got != want {
			t.Errorf("%s: %s = %q, want %q", h.Name, paxFileAttr, got, want)
		}
		if h.PAXRecords[paxCreationTime] == "" {
			t.Errorf("%s: missing %s", h.Name, paxCreationTime)
		}
	}
}

func TestWindowsConfigsCarryWindowsPlatform(t *testing.T) {
	for _, repo := range windowsRepos {
		for _, wb := range repo.tags {
			img, err := windowsImage(repo, wb.windowsBuild)
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS != "windows" || cf.Architecture != "amd64" || cf.OSVersion != wb.osVersion {
				t.Errorf("%s:%s: platform %s/%s %s", repo.name, wb.tag, cf.OS, cf.Architecture, cf.OSVersion)
			}
		}
	}
}

// The bed must carry exactly the tags MCR publishes: nanoserver has no
// ltsc2019 (its 2019 tag is 1809), servercore has both.
func TestWindowsTagSetsAreMCRs(t *testing.T) {
	imgs, err := windowsImages("r/p")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var refs []string
	for _, ni := range imgs {
		if ni.img == nil {
			continue
		}
		cf, err := ni.img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		got[ni.ref] = cf.OSVersion
		refs = append(refs, ni.ref)
	}
	want := map[string]string{
		"r/p/nanoserver:1809":     "10.0.17763.6293",
		"r/p/nanoserver:ltsc2022": "10.0.20348.2700",
		"r/p/nanoserver:ltsc2025": "10.0.26100.1742",
		"r/p/servercore:ltsc2019": "10.0.17763.6293",
		"r/p/servercore:1809":     "10.0.17763.6293",
		"r/p/servercore:ltsc2022": "10.0.20348.2700",
		"r/p/servercore:ltsc2025": "10.0.26100.1742",
	}
	if len(got) != len(want) || len(refs) != len(want) {
		t.Errorf("images %v, want exactly %v", refs, want)
	}
	for ref, v := range want {
		if got[ref] != v {
			t.Errorf("%s: os.version %q, want %q", ref, got[ref], v)
		}
	}
	if _, ok := got["r/p/nanoserver:ltsc2019"]; ok {
		t.Error("nanoserver:ltsc2019 exists; MCR does not publish it")
	}
}

func TestServercoreDiffersFromNanoserver(t *testing.T) {
	digest := func(repo windowsRepo, wb windowsBuild) string {
		img, err := windowsImage(repo, wb)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	seen := map[string]string{}
	for _, repo := range windowsRepos {
		for _, wb := range []windowsBuild{build2019, build2022, build2025} {
			d := digest(repo, wb)
			if other, ok := seen[d]; ok {
				t.Errorf("%s %s has the digest of %s", repo.name, wb.osVersion, other)
			}
			seen[d] = repo.name + " " + wb.osVersion
		}
	}
	// ltsc2019 and 1809 are one image in servercore, as on MCR.
	byTag := map[string]string{}
	for _, wb := range servercore.tags {
		byTag[wb.tag] = digest(servercore, wb.windowsBuild)
	}
	if byTag["ltsc2019"] != byTag["1809"] {
		t.Errorf("servercore ltsc2019 %s and 1809 %s differ", byTag["ltsc2019"], byTag["1809"])
	}
}

// layerFiles is the regular files of a layer, by name.
func layerFiles(t *testing.T, l v1.Layer) map[string]string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = string(b)
		}
	}
}

func TestMultiversionIndexHasOneWindowsEntryPerBuild(t *testing.T) {
	idx, err := multiversionIndex()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := idx.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	if mt != types.DockerManifestList {
		t.Errorf("media type %s, want %s", mt, types.DockerManifestList)
	}
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("artifactType")) {
		t.Errorf("manifest list carries artifactType, which MCR's do not: %s", raw)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.17763.6293", "10.0.20348.2700", "10.0.26100.1742"}
	if len(im.Manifests) != len(want) {
		t.Fatalf("%d entries, want %d", len(im.Manifests), len(want))
	}
	digests := map[v1.Hash]bool{}
	for i, desc := range im.Manifests {
		p := desc.Platform
		if p == nil || p.OS != "windows" || p.Architecture != "amd64" || p.OSVersion != want[i] {
			t.Errorf("entry %d platform %+v, want windows/amd64 %s", i, p, want[i])
			continue
		}
		if desc.MediaType != types.DockerManifestSchema2 {
			t.Errorf("entry %d media type %s", i, desc.MediaType)
		}
		digests[desc.Digest] = true
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != "windows" || cf.Architecture != "amd64" || cf.OSVersion != want[i] {
			t.Errorf("entry %d config %s/%s %s, want windows/amd64 %s", i, cf.OS, cf.Architecture, cf.OSVersion, want[i])
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if len(layers) != 2 {
			t.Fatalf("entry %d has %d layers, want nanoserver's + one", i, len(layers))
		}
		// The base layer is nanoserver's of the same build, byte for byte.
		ns, err := windowsImage(nanoserver, windowsBuild{osVersion: want[i]})
		if err != nil {
			t.Fatal(err)
		}
		nsLayers, err := ns.Layers()
		if err != nil {
			t.Fatal(err)
		}
		got0, _ := layers[0].Digest()
		ns0, _ := nsLayers[0].Digest()
		if got0 != ns0 {
			t.Errorf("entry %d base layer %s, want nanoserver's %s", i, got0, ns0)
		}
		files := layerFiles(t, layers[1])
		if body := files[versionFile]; body != want[i]+"\r\n" {
			t.Errorf("entry %d %s = %q, want %q", i, versionFile, body, want[i]+"\r\n")
		}
	}
	if len(digests) != len(want) {
		t.Errorf("entries share images: %v", digests)
	}
}

func TestImagesAreReproducible(t *testing.T) {
	build := func() []string {
		bb, err := busyboxImage([]byte("ELF"), []string{"sh"})
		if err != nil {
			t.Fatal(err)
		}
		ns, err := windowsImage(nanoserver, build2022)
		if err != nil {
			t.Fatal(err)
		}
		mv, err := multiversionIndex()
		if err != nil {
			t.Fatal(err)
		}
		mvd, err := mv.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests := []string{mvd.String()}
		for _, img := range []v1.Image{bb, ns} {
			d, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			digests = append(digests, d.String())
		}
		return digests
	}
	first, second := build(), build()
	for i := range first {
		if first[i] != second[i] {
			t.Errorf("image %d digest changed between runs: %s then %s", i, first[i], second[i])
		}
	}
}
