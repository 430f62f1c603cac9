package main

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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
	b, err := windowsTar("10.0.20348.2700")
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

func TestNanoserverConfigCarriesWindowsPlatform(t *testing.T) {
	for _, wb := range windowsBases {
		img, err := nanoserverImage(wb)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != "windows" || cf.Architecture != "amd64" || cf.OSVersion != wb.osVersion {
			t.Errorf("%s: platform %s/%s %s", wb.tag, cf.OS, cf.Architecture, cf.OSVersion)
		}
	}
}

func TestImagesAreReproducible(t *testing.T) {
	build := func() []string {
		bb, err := busyboxImage([]byte("ELF"), []string{"sh"})
		if err != nil {
			t.Fatal(err)
		}
		ns, err := nanoserverImage(windowsBases[1])
		if err != nil {
			t.Fatal(err)
		}
		var digests []string
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
