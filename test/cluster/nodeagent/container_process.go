package nodeagent

import (
	"context"
	"fmt"
	"os"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// prepare turns a container spec into the host process that stands in for
// it: resolved and expanded env, command line, and every mounted path
// rewritten to its local directory. A configError is retried by the caller;
// any other error is a start failure.
func (w *podWorker) prepare(ctx context.Context, pod *v1.Pod, c *v1.Container, mounts volumeMounts, img *CatalogueImage) (processSpec, error) {
	env, err := resolveEnv(ctx, pod, c, w.k.volumes.objects, w.k.envContext())
	if err != nil {
		return processSpec{}, configError{err}
	}
	if err := os.MkdirAll(w.dirs.container(c.Name), 0o750); err != nil {
		return processSpec{}, err
	}
	mappings, err := containerMappings(c, mounts, env, w.dirs.terminationLog(c.Name))
	if err != nil {
		return processSpec{}, configError{err}
	}
	hostProcess := w.k.spec.OS == "windows" && isHostProcess(pod, c)
	if hostProcess {
		// A HostProcess container sees the host's named pipes, mounted or not.
		if err := os.MkdirAll(w.k.lay.pipesDir(w.k.spec.Name), 0o755); err != nil {
			return processSpec{}, err
		}
		mappings = append(mappings, pathMapping{containerPath: namedPipePrefix, localPath: w.k.lay.pipesDir(w.k.spec.Name)})
	}
	rw := newPathRewriter(mappings)

	command, args := expandCommand(c, env)
	if len(command) == 0 && img != nil && len(img.Entrypoint) > 0 {
		command = append([]string(nil), img.Entrypoint...) // the image's ENTRYPOINT is not $(VAR)-expanded
	}
	if len(command) == 0 {
		return processSpec{}, fmt.Errorf("container %q has no command: the test bed runs command lines as host processes and cannot know the ENTRYPOINT of image %q; set command", c.Name, c.Image)
	}
	argv := rw.rewriteArgs(append(command, args...))
	argv = replaceEmbedded(argv, terminationMessagePath(c), w.dirs.terminationLog(c.Name))
	if w.k.spec.OS == "windows" {
		argv = emulateWindowsCommand(argv)
	}
	var readinessArgv []string
	if p := c.ReadinessProbe; p != nil && p.Exec != nil && w.k.spec.OS == "windows" {
		readinessArgv = emulateWindowsCommand(rw.rewriteArgs(p.Exec.Command))
	}

	engine := w.k.engineSocket()
	dockerMounted := hostProcess
	for _, m := range mappings {
		if m.localPath == engine {
			dockerMounted = true
		}
	}
	home := w.dirs.home(c.Name)
	dir := workingDir(c.WorkingDir, rw, w.dirs.rootfs(c.Name))
	for _, d := range []string{home, dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return processSpec{}, err
		}
	}
	var pathDirs []string
	if img != nil {
		pathDirs = append(pathDirs, img.Path...) // the image's own binaries (its docker CLI) first
	}
	pathDirs = append(append(pathDirs, w.k.cfg.ExtraPath...), os.Getenv("PATH"))
	base := processBase{
		path:           strings.Join(pathDirs, string(os.PathListSeparator)),
		home:           home,
		hostname:       podHostname(pod),
		dockerSocket:   engine,
		dockerMounted:  dockerMounted,
		noDockerSocket: w.dirs.noDockerSocket(),
	}
	return processSpec{
		argv:    argv,
		env:     processEnv(env, rw, base),
		dir:     dir,
		logPath: w.dirs.log(c.Name),
		pidPath: w.dirs.pidFile(c.Name),

		readinessArgv: readinessArgv,
	}, nil
}

// replaceEmbedded rewrites containerPath also inside longer strings: for the
// termination message path only, because scripts so often end with
// `echo ... > /dev/termination-log` and the string is too distinctive to hit
// anything else. Without it the script would write the host's /dev.
func replaceEmbedded(argv []string, containerPath, local string) []string {
	for i, a := range argv {
		if a != local && strings.Contains(a, containerPath) {
			argv[i] = strings.ReplaceAll(a, containerPath, local)
		}
	}
	return argv
}

func terminationMessagePath(c *v1.Container) string {
	if c.TerminationMessagePath != "" {
		return c.TerminationMessagePath
	}
	return defaultTerminationMessagePath
}

func podHostname(pod *v1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	return pod.Name
}

// processBase is what the image and runtime would provide to a container's
// environment, adapted to a host process.
type processBase struct {
	path           string // host PATH (with --path): the host's binaries stand in for the image's
	home           string
	hostname       string
	dockerSocket   string // the node's engine: the bed dockerd (Linux) or the node's engine pipe (Windows)
	dockerMounted  bool   // the container mounts the Docker socket/pipe
	noDockerSocket string
}

// processEnv builds the process environment: runtime defaults, then the
// pod's variables with paths rewritten, then DOCKER_HOST. The pod's PATH is
// not used: it names directories of the image, which does not exist here.
func processEnv(podEnv []v1.EnvVar, rw *pathRewriter, base processBase) []string {
	env := newOrderedEnv()
	env.set("PATH", base.path)
	env.set("HOSTNAME", base.hostname)
	env.set("HOME", base.home)
	podDockerHost := ""
	for _, e := range podEnv {
		switch e.Name {
		case "PATH":
			continue
		case "DOCKER_HOST":
			podDockerHost = e.Value
		}
		env.set(e.Name, rw.rewrite(e.Value))
	}
	env.set("DOCKER_HOST", dockerHost(podDockerHost, rw, base))
	out := make([]string, 0, len(env.names))
	for _, v := range env.list() {
		out = append(out, v.Name+"="+v.Value)
	}
	return out
}

// dockerHost decides where the docker CLI of the process connects, given the
// pod's DOCKER_HOST. Unset means the CLI default (/var/run/docker.sock, or the
// engine pipe on Windows): the bed dockerd if the container mounts it. A
// unix:// or npipe:// address under a mount is rewritten to the local socket
// (the Docker socket mount is the bed dockerd). One that is not mounted would
// not exist inside a container, so it must not reach a daemon on this host.
func dockerHost(value string, rw *pathRewriter, base processBase) string {
	switch {
	case value == "":
		if base.dockerMounted {
			return "unix://" + base.dockerSocket
		}
		return "unix://" + base.noDockerSocket
	case rw.rewrite(value) != value:
		return rw.rewrite(value)
	case strings.HasPrefix(value, "unix://") || strings.HasPrefix(value, "npipe://"):
		return "unix://" + base.noDockerSocket
	default: // tcp://, ssh://: reachable or not, as in a container
		return value
	}
}

// workingDir maps the container's workingDir: under a mount it is the local
// path; elsewhere it lives in the container's own rootfs stand-in, as would
// a directory of the image.
func workingDir(wd string, rw *pathRewriter, rootfs string) string {
	if wd == "" {
		return rootfs
	}
	if local, ok := rw.localPathFor(wd); ok {
		return local
	}
	return underRoot(rootfs, wd)
}
