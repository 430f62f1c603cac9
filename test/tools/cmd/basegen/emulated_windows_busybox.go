package main

import (
	"archive/tar"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// EMULATION ONLY — no such image exists anywhere else.
//
// emulated-windows-busybox:<tag> is a Windows image (os windows, the
// os.version of each build, Files/ and Hives/ layout) whose Files/bin holds
// Debian's static busybox. It stands in for a Windows base with a shell on
// the bed's emulated Windows BuildKit pool (test/cluster/README.md): there a
// windows/amd64 RUN reaches the bed's Linux buildkitd, which unpacks a
// Windows layer without its Files/ prefix (util/winlayers) and runs the
// step as a Linux process. A Dockerfile FROM it names `SHELL ["/bin/sh",
// "-c"]`: the frontend's Windows default, cmd /S /C, does not exist here.
var emulatedWindowsBusyboxTags = []windowsBase{{"ltsc2019", build2019}, {"ltsc2022", build2022}, {"ltsc2025", build2025}}

func emulatedWindowsBusyboxImage(bin []byte, applets []string, wb windowsBuild) (v1.Image, error) {
	b, err := emulatedWindowsBusyboxTar(bin, applets, wb.osVersion)
	if err != nil {
		return nil, err
	}
	layer, err := layerFromTar(b)
	if err != nil {
		return nil, err
	}
	return singleLayerImage(layer, platform{os: "windows", arch: "amd64", osVersion: wb.osVersion},
		v1.Config{Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/bin"}}, "EMULATION: busybox in a Windows layer "+wb.osVersion)
}

// emulatedWindowsBusyboxTar: Windows layer layout, busybox at Files/bin with
// a hard link per applet (winlayers rewrites link targets under Files/ too).
func emulatedWindowsBusyboxTar(bin []byte, applets []string, osVersion string) ([]byte, error) {
	headers := []*tar.Header{windowsHeader("Files", tar.TypeDir), windowsHeader("Files/bin", tar.TypeDir), windowsHeader("Files/tmp", tar.TypeDir), windowsHeader("Hives", tar.TypeDir)}
	exe := windowsHeader("Files/bin/busybox", tar.TypeReg)
	exe.Mode = 0o100755
	headers = append(headers, exe, windowsHeader("Files/osversion.txt", tar.TypeReg), windowsHeader("Hives/System_Delta", tar.TypeReg))
	sorted := append([]string(nil), applets...)
	sort.Strings(sorted)
	for _, a := range sorted {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		link := windowsHeader("Files/bin/"+a, tar.TypeLink)
		link.Linkname = "Files/bin/busybox"
		link.Mode = 0o100755
		headers = append(headers, link)
	}
	return writeTar(headers, map[string][]byte{
		"Files/bin/busybox":   bin,
		"Files/osversion.txt": []byte(osVersion + "\r\n"),
		"Hives/System_Delta":  []byte("placeholder hive\r\n"),
	})
}
