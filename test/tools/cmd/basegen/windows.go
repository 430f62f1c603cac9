package main

import (
	"archive/tar"
	"fmt"
	"path"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A Windows build the bases come in. The os.version values are real builds
// (17763 = Windows Server 2019, 20348 = 2022, 26100 = 2025); Windows refuses to
// run a process-isolated container whose build differs from the host's, so the
// dispatcher keys node pools on them.
type windowsBuild struct {
	osVersion string
}

var (
	build2019 = windowsBuild{osVersion: "10.0.17763.6293"}
	build2022 = windowsBuild{osVersion: "10.0.20348.2700"}
	build2025 = windowsBuild{osVersion: "10.0.26100.1742"}
)

type windowsBase struct {
	tag string
	windowsBuild
}

// windowsRepo is one of Microsoft's Windows base repositories with exactly
// the tags MCR publishes for it, so a Dockerfile naming a tag that does not
// exist (nanoserver:ltsc2019) fails on the bed as it does against MCR.
type windowsRepo struct {
	name  string // repository under the prefix: nanoserver, servercore
	user  string // Config.User: nanoserver runs as ContainerUser, servercore as the default ContainerAdministrator
	extra map[string][]byte
	tags  []windowsBase
}

// Nano Server never had an "ltsc2019" tag: its 2019 image is "1809" only.
// Server Core has both "ltsc2019" and "1809" (the same image).
var nanoserver = windowsRepo{
	name: "nanoserver",
	user: "ContainerUser",
	tags: []windowsBase{{"1809", build2019}, {"ltsc2022", build2022}, {"ltsc2025", build2025}},
}

var servercore = windowsRepo{
	name: "servercore",
	// The file that sets Server Core apart here (its layer, and so its
	// digests, differ from Nano Server's of the same build).
	extra: map[string][]byte{
		"Files/Windows/System32/WindowsPowerShell/v1.0/powershell.exe": []byte("placeholder, not a PE binary\r\n"),
	},
	tags: []windowsBase{{"ltsc2019", build2019}, {"1809", build2019}, {"ltsc2022", build2022}, {"ltsc2025", build2025}},
}

var windowsRepos = []windowsRepo{nanoserver, servercore}

// PAX keys that Windows layer tars carry (hcsshim's wclayer writer, and
// BuildKit's util/winlayers when it exports a layer on Linux).
const (
	paxFileAttr     = "MSWINDOWS.fileattr"
	paxCreationTime = "LIBARCHIVE.creationtime"
	attrDirectory   = "16" // FILE_ATTRIBUTE_DIRECTORY
	attrArchive     = "32" // FILE_ATTRIBUTE_ARCHIVE, what a plain file has
)

func windowsImage(repo windowsRepo, wb windowsBuild) (v1.Image, error) {
	b, err := windowsTar(wb.osVersion, repo.extra)
	if err != nil {
		return nil, err
	}
	layer, err := layerFromTar(b)
	if err != nil {
		return nil, err
	}
	comment := "Apply synthetic image " + wb.osVersion
	if repo.name != nanoserver.name {
		// nanoserver keeps the comment (and so the digests) it always had.
		comment = "Apply synthetic " + repo.name + " image " + wb.osVersion
	}
	return singleLayerImage(layer, platform{os: "windows", arch: "amd64", osVersion: wb.osVersion},
		v1.Config{Cmd: []string{`c:\windows\system32\cmd.exe`}, User: repo.user}, comment)
}

// windowsTar lays files out as Windows base layers do: the filesystem under
// Files/ and registry hive deltas under Hives/. BuildKit on Linux only reads
// Files/ (util/winlayers strips the prefix) and writes both roots back when
// it exports a layer, so this is the layout a COPY onto this base meets.
// extra adds files (paths under Files/) to the common set.
//
// Security descriptors (MSWINDOWS.rawsd) are left out: only a real Windows
// host applying the layer reads them, and the bed has none.
func windowsTar(osVersion string, extra map[string][]byte) ([]byte, error) {
	files := map[string][]byte{
		"Files/License.txt":                        []byte("Synthetic dockhand test base image; contains no Microsoft software.\r\n"),
		"Files/Windows/System32/cmd.exe":           []byte("placeholder, not a PE binary\r\n"),
		"Files/Windows/System32/kernel32.dll":      []byte("placeholder, not a PE binary\r\n"),
		"Files/Windows/System32/drivers/etc/hosts": []byte("127.0.0.1 localhost\r\n"),
		"Files/Windows/System32/osversion.txt":     []byte(osVersion + "\r\n"),
		"Hives/DefaultUser_Delta":                  []byte("placeholder hive\r\n"),
		"Hives/Sam_Delta":                          []byte("placeholder hive\r\n"),
		"Hives/Security_Delta":                     []byte("placeholder hive\r\n"),
		"Hives/Software_Delta":                     []byte("placeholder hive\r\n"),
		"Hives/System_Delta":                       []byte("placeholder hive\r\n"),
	}
	for name, body := range extra {
		files[name] = body
	}
	return windowsLayoutTar(files, "Files/ProgramData", "Files/Users/ContainerUser", "Files/Windows/Temp")
}

// windowsLayoutTar writes every directory (the given empty ones and each
// file's parents, both roots included) in sorted order, then the files in
// sorted order.
func windowsLayoutTar(files map[string][]byte, emptyDirs ...string) ([]byte, error) {
	dirSet := map[string]bool{"Files": true, "Hives": true}
	addParents := func(p string) {
		for ; p != "." && p != "/" && p != ""; p = path.Dir(p) {
			dirSet[p] = true
		}
	}
	for _, d := range emptyDirs {
		addParents(d)
	}
	for name := range files {
		addParents(path.Dir(name))
	}
	dirs := make([]string, 0, len(dirSet))
	for d := range dirSet {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var headers []*tar.Header
	for _, d := range dirs {
		headers = append(headers, windowsHeader(d, tar.TypeDir))
	}
	for _, name := range sortedKeys(files) {
		headers = append(headers, windowsHeader(name, tar.TypeReg))
	}
	return writeTar(headers, files)
}

func windowsHeader(name string, typ byte) *tar.Header {
	// Windows layer tars name directories without a trailing slash (hcsshim's
	// backuptar, BuildKit's winlayers differ); keep that so diffs line up.
	h := &tar.Header{
		Name:     name,
		Typeflag: typ,
		ModTime:  epoch,
		Format:   tar.FormatPAX,
		PAXRecords: map[string]string{
			paxCreationTime: fmt.Sprintf("%d.%d", epoch.Unix(), epoch.Nanosecond()),
		},
	}
	// The S_IFDIR/S_IFREG bits in the mode field are how the Windows tar
	// writers mark entry kinds; hcsshim's importer tolerates their absence
	// but real layers have them.
	switch typ {
	case tar.TypeDir:
		h.Mode = 0o40755
		h.PAXRecords[paxFileAttr] = attrDirectory
	default:
		h.Mode = 0o100644
		h.PAXRecords[paxFileAttr] = attrArchive
	}
	return h
}
