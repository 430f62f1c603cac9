package nodeagent

import (
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// Layout under --dir (the contract's <BED_DIR>/nodes):
//
//	pods/<uid>/volumes/<volume>          one local dir (or link) per pod volume
//	pods/<uid>/logs/<container>.log      current instance, CRI log format
//	pods/<uid>/logs/<container>.previous.log   instance before the last restart
//	pods/<uid>/containers/<container>/   termination-log, pid, home/, rootfs/
//	node/<node>/kubelet.crt|key          serving cert of the node's log server
//	node/<node>/hostpath/<path>          what hostPath volumes of that node see
//	node/<node>/pipes/<name>             a Windows node's named pipes \\.\pipe\<name>
//	                                     (unix sockets; docker_engine exists only
//	                                     while the node's emulated dockerd runs)
//	node/<node>/images/<sha256>.json     the images a Windows node holds (node_images.go)
type layout struct{ dir string }

func (l layout) podsDir() string { return filepath.Join(l.dir, "pods") }

func (l layout) pod(uid types.UID) podDirs {
	return podDirs{root: filepath.Join(l.dir, "pods", string(uid))}
}

func (l layout) nodeDir(node string) string { return filepath.Join(l.dir, "node", node) }

func (l layout) hostPathRoot(node string) string {
	return filepath.Join(l.nodeDir(node), "hostpath")
}

// pipesDir stands in for a Windows node's named pipe namespace \\.\pipe\.
func (l layout) pipesDir(node string) string { return filepath.Join(l.nodeDir(node), "pipes") }

type podDirs struct{ root string }

func (d podDirs) volume(name string) string { return filepath.Join(d.root, "volumes", name) }
func (d podDirs) logsDir() string           { return filepath.Join(d.root, "logs") }
func (d podDirs) log(container string) string {
	return filepath.Join(d.logsDir(), container+".log")
}
func (d podDirs) previousLog(container string) string {
	return filepath.Join(d.logsDir(), container+".previous.log")
}
func (d podDirs) container(name string) string { return filepath.Join(d.root, "containers", name) }
func (d podDirs) terminationLog(name string) string {
	return filepath.Join(d.container(name), "termination-log")
}
func (d podDirs) pidFile(name string) string { return filepath.Join(d.container(name), "pid") }
func (d podDirs) home(name string) string    { return filepath.Join(d.container(name), "home") }

// rootfs stands in for the container's own filesystem: a workingDir that is
// not under any mount is created beneath it.
func (d podDirs) rootfs(name string) string { return filepath.Join(d.container(name), "rootfs") }

// noDockerSocket is where DOCKER_HOST points when the pod mounts no Docker
// socket: nothing listens there, so the docker CLI fails as it would in a
// container without the socket, instead of finding some daemon on the host.
func (d podDirs) noDockerSocket() string {
	return filepath.Join(d.root, "no-docker-socket-mounted.sock")
}

// underRoot places an absolute container path (Linux or Windows style)
// beneath root, so that it cannot escape it.
func underRoot(root, containerPath string) string {
	p := containerPath
	if isWindowsStylePath(p) {
		p = windowsPathKey(p)
		p = strings.ReplaceAll(p, ":", "")
	}
	p = filepath.Clean("/" + filepath.ToSlash(p))
	return filepath.Join(root, p)
}
