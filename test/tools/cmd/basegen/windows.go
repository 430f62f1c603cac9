package main

import (
	"archive/tar"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

type windowsBase struct {
	tag, osVersion string
}

// The os.version values are real nanoserver builds (ltsc2019 = 17763,
// ltsc2022 = 20348, ltsc2025 = 26100); Windows refuses to run a process-
// isolated container whose build differs from the host's, so the dispatcher
// keys node pools on them.
var windowsBases = []windowsBase{
	{tag: "ltsc2019", osVersion: "10.0.17763.6293"},
	{tag: "ltsc2022", osVersion: "10.0.20348.2700"},
	{tag: "ltsc2025", osVersion: "10.0.26100.1742"},
}

// PAX keys that Windows layer tars carry (hcsshim's wclayer writer, and
// BuildKit's util/winlayers when it exports a layer on Linux).
const (
	paxFileAttr     = "MSWINDOWS.fileattr"
	paxCreationTime = "LIBARCHIVE.creationtime"
	attrDirectory   = "16" // FILE_ATTRIBUTE_DIRECTORY
	attrArchive     = "32" // FILE_ATTRIBUTE_ARCHIVE, what a plain file has
)

func nanoserverImage(wb windowsBase) (v1.Image, error) {
	b, err := windowsTar(wb.osVersion)
	if err != nil {
		return nil, err
	}
	layer, err := layerFromTar(b)
	if err != nil {
		return nil, err
	}
	return singleLayerImage(layer, platform{os: "windows", arch: "amd64", osVersion: wb.osVersion},
		v1.Config{Cmd: []string{`c:\windows\system32\cmd.exe`}, User: "ContainerUser"},
		"Apply synthetic image "+wb.osVersion)
}

// windowsTar lays files out as Windows base layers do: the filesystem under
// Files/ and registry hive deltas under Hives/. BuildKit on Linux only reads
// Files/ (util/winlayers strips the prefix) and writes both roots back when
// it exports a layer, so this is the layout a COPY onto this base meets.
//
// Security descriptors (MSWINDOWS.rawsd) are left out: only a real Windows
// host applying the layer reads them, and the bed has none.
func windowsTar(osVersion string) ([]byte, error) {
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
	dirs := []string{
		"Files", "Files/ProgramData", "Files/Users", "Files/Users/ContainerUser",
		"Files/Windows", "Files/Windows/System32", "Files/Windows/System32/drivers",
		"Files/Windows/System32/drivers/etc", "Files/Windows/Temp", "Hives",
	}
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
