package nodeagent

// Windows node EMULATION — this file does not run anything on Windows.
//
// The Windows nodes of the test bed (win-ltsc2019-0, win-ltsc2022-0,
// win-ltsc2025-0; one pool each: agentpool win19/win22/win25) are Linux host
// processes that register Nodes labelled kubernetes.io/os=windows and tainted
// node.kubernetes.io/os=windows:NoSchedule. What is emulated is what a Windows
// pod spec *says*, so that the same spec a team would apply to a real Windows
// pool runs here unchanged, and what a real Windows node would *refuse*:
//
//   - Images (image_catalogue.go): a container runs what its image reference
//     names in the --images catalogue (its docker CLI first on PATH, its
//     ENTRYPOINT when the container has no command). An image not in the
//     catalogue fails to pull: Waiting ErrImagePull, then ImagePullBackOff
//     with the kubelet's back-off and events, the pod staying Pending. An
//     image whose osVersion is not the node's windows-build fails to start
//     (StartError, exit 128, hcsshim's "The container operating system does
//     not match the host operating system"), as with process isolation,
//     unless it is a HostProcess image or runs in a HostProcess pod.
//   - Images a node holds (node_images.go): a catalogue image is "pulled"
//     the first time a container of it starts on the node (Pulling, then
//     "Successfully pulled image …"), found "already present on machine"
//     after that, listed in the Node's status.images as the kubelet lists
//     them, and kept after its pods are gone; deleting its file under
//     node/<node>/images/ is the emulation's crictl rmi.
//   - Named pipes: \\.\pipe\<name> on a node is the unix socket
//     <dir>/node/<node>/pipes/<name>, for hostPath volumes and for HostProcess
//     containers (which see the host's pipes unmounted); npipe:// addresses in
//     DOCKER_HOST and --flag=values are rewritten to it. \\.\pipe\docker_engine
//     exists only while the node's dockerd pod runs (the DaemonSets dockhand
//     ships; their image is the catalogue's EMULATED dockerd,
//     dockerd_emulation.go, a proxy to the bed's one Linux dockerd, so
//     `docker build` of a Windows Dockerfile would still build Linux layers).
//     Without it the docker CLI fails to connect, as on a node without dockerd.
//   - Exec readiness probes run, through the same command emulation, so a
//     dockerd pod is Ready once its engine answers (probe.go).
//   - Drive-letter paths (C:\dockhand\config) and backslash separators in
//     mountPath, env values, args and workingDir are matched the way Windows
//     matches them (case-insensitively, either separator) and rewritten to
//     local directories by the ordinary path rewrite.
//   - A command of docker.exe or C:\...\docker.exe runs the docker on PATH
//     (the image's), and `cmd /c <line>` runs `sh -c <line>`; the line is
//     handed to a POSIX shell, so only command lines that mean the same in
//     both shells work.
//
//   - Hyper-V isolation, as far as a node refuses it: a build with
//     --isolation=hyperv is refused unless the node has the emulated Hyper-V
//     feature (hyperv_emulation.go); with it, it builds as any other.
//
// Not emulated: a Windows kernel or Windows containers, a Windows engine per
// node (images built on one node are visible on all), Hyper-V utility VMs,
// powershell, %VAR% expansion, Windows users/ACLs, and the Windows kubelet's
// own behaviour (its stats, its CSI proxy). The command lines run on the
// Linux host.

import (
	"path"
	"strings"
)

const (
	dockerEngineNamedPipe = `\\.\pipe\docker_engine`
	namedPipePrefix       = `\\.\pipe`
)

// namedPipeName returns NAME for \\.\pipe\NAME (either separator, any case).
func namedPipeName(p string) (string, bool) {
	rest, ok := cutPathPrefix(p, namedPipePrefix)
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	return strings.ToLower(rest), true // pipe names are case-insensitive
}

// isWindowsStylePath reports a drive-letter path (C:\x, C:/x, C:) or a
// UNC/device path (\\server\share, \\.\pipe\name).
func isWindowsStylePath(p string) bool {
	if strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, `//`) {
		return true
	}
	if len(p) < 2 || p[1] != ':' || !isASCIILetter(p[0]) {
		return false
	}
	return len(p) == 2 || p[2] == '\\' || p[2] == '/'
}

// isWindowsDriveRoot reports C:\ or C:/ (the separator carries meaning there:
// "C:" alone is the drive's current directory).
func isWindowsDriveRoot(p string) bool {
	return len(p) == 3 && isWindowsStylePath(p) && p[1] == ':'
}

// windowsPathKey folds case and separators the way Windows path lookup does.
// It keeps the length of p so callers can cut the original string at the same
// offsets (ASCII-only case folding).
func windowsPathKey(p string) string {
	b := []byte(p)
	for i, c := range b {
		switch {
		case c == '\\':
			b[i] = '/'
		case 'A' <= c && c <= 'Z':
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

func isASCIILetter(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// isDockerEngineNamedPipe reports the default Docker engine pipe in either
// spelling (docker's npipe URLs use forward slashes).
func isDockerEngineNamedPipe(p string) bool {
	return windowsPathKey(p) == windowsPathKey(dockerEngineNamedPipe)
}

// namedPipeFromDockerHost turns a docker npipe:// address into the pipe's
// path, e.g. npipe:////./pipe/docker_engine -> \\.\pipe\docker_engine, so the
// path rewrite can look it up among the mounts.
func namedPipeFromDockerHost(value string) (string, bool) {
	rest, ok := strings.CutPrefix(value, "npipe://")
	if !ok || rest == "" {
		return "", false
	}
	return strings.ReplaceAll(rest, "/", `\`), true
}

// emulateWindowsCommand adapts argv written for a Windows container to the
// Linux host: a Windows executable path that is not a mounted local file is
// looked up by its base name on PATH without the .exe suffix, and cmd /c runs
// through sh -c.
func emulateWindowsCommand(argv []string) []string {
	if len(argv) == 0 {
		return argv
	}
	out := append([]string(nil), argv...)
	out[0] = windowsExecutableName(out[0])
	if (out[0] == "cmd") && len(out) >= 3 {
		i := 1
		for i < len(out)-1 && strings.EqualFold(out[i], "/s") {
			i++
		}
		if strings.EqualFold(out[i], "/c") && i+1 < len(out) {
			return []string{"sh", "-c", strings.Join(out[i+1:], " ")}
		}
	}
	return out
}

func windowsExecutableName(name string) string {
	if isWindowsStylePath(name) || strings.Contains(name, `\`) {
		name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	}
	if strings.Contains(name, "/") {
		return name
	}
	if ext := path.Ext(name); strings.EqualFold(ext, ".exe") || strings.EqualFold(ext, ".cmd") || strings.EqualFold(ext, ".bat") {
		name = strings.TrimSuffix(name, ext)
	}
	return strings.ToLower(name)
}
