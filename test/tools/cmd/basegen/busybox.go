package main

import (
	"archive/tar"
	"fmt"
	"os/exec"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const linuxPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
const group = "root:x:0:\nnogroup:x:65534:\n"

// listApplets asks the binary itself, so the symlinks match the build of
// busybox that Debian ships rather than a list kept here.
func listApplets(busyboxPath string) ([]string, error) {
	out, err := exec.Command(busyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list (needs a linux/amd64 busybox that runs here): %w", busyboxPath, err)
	}
	return strings.Fields(string(out)), nil
}

func busyboxImage(bin []byte, applets []string) (v1.Image, error) {
	b, err := busyboxTar(bin, applets)
	if err != nil {
		return nil, err
	}
	layer, err := layerFromTar(b)
	if err != nil {
		return nil, err
	}
	return singleLayerImage(layer, platform{os: "linux", arch: "amd64"},
		v1.Config{Cmd: []string{"sh"}, Env: []string{"PATH=" + linuxPath}},
		"busybox-static from Debian")
}

func busyboxTar(bin []byte, applets []string) ([]byte, error) {
	dir := func(name string, mode int64) *tar.Header {
		return &tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: mode, ModTime: epoch}
	}
	file := func(name string, mode int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, ModTime: epoch}
	}
	headers := []*tar.Header{
		dir("bin", 0o755), dir("etc", 0o755), dir("root", 0o700), dir("tmp", 0o1777),
		file("bin/busybox", 0o755),
		file("etc/group", 0o644), file("etc/passwd", 0o644),
	}
	sorted := append([]string(nil), applets...)
	sort.Strings(sorted)
	for _, a := range sorted {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		headers = append(headers, &tar.Header{
			Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: epoch,
		})
	}
	return writeTar(headers, map[string][]byte{
		"bin/busybox": bin,
		"etc/group":   []byte(group),
		"etc/passwd":  []byte(passwd),
	})
}
