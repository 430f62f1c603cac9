package nodeagent

import (
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestProcessEnvAndDockerHost(t *testing.T) {
	rw := newPathRewriter([]pathMapping{
		{containerPath: "/var/run/docker.sock", localPath: "/bed/docker.sock"},
		{containerPath: "/run/buildkit", localPath: "/bed/v/bk"},
		{containerPath: `C:\cfg`, localPath: "/bed/v/cfg"},
	})
	base := processBase{path: "/extra:/usr/bin", home: "/bed/c/home", hostname: "p", dockerSocket: "/bed/docker.sock", dockerMounted: true, noDockerSocket: "/bed/none.sock"}
	env := processEnv([]v1.EnvVar{
		{Name: "PATH", Value: `C:\Windows`},
		{Name: "DOCKER_CONFIG", Value: `C:\cfg\docker`},
		{Name: "DOCKER_HOST", Value: "npipe:////./pipe/docker_engine"},
	}, newPathRewriter(append(rw.mappings, pathMapping{containerPath: dockerEngineNamedPipe, localPath: "/bed/docker.sock"})), base)
	want := []string{"PATH=/extra:/usr/bin", "HOSTNAME=p", "HOME=/bed/c/home", "DOCKER_CONFIG=/bed/v/cfg/docker", "DOCKER_HOST=unix:///bed/docker.sock"}
	if len(env) != len(want) {
		t.Fatalf("env = %q", env)
	}
	for i := range want {
		if env[i] != want[i] {
			t.Errorf("env[%d] = %q, want %q", i, env[i], want[i])
		}
	}

	for _, tc := range []struct {
		value   string
		mounted bool
		want    string
	}{
		{"", true, "unix:///bed/docker.sock"},
		{"", false, "unix:///bed/none.sock"},
		{"unix:///var/run/docker.sock", true, "unix:///bed/docker.sock"},
		{"unix:///run/buildkit/buildkitd.sock", false, "unix:///bed/v/bk/buildkitd.sock"},
		{"unix:///var/run/other.sock", true, "unix:///bed/none.sock"}, // not mounted: absent in a container
		{"npipe:////./pipe/docker_engine", false, "unix:///bed/none.sock"},
		{"tcp://127.0.0.1:2375", false, "tcp://127.0.0.1:2375"},
	} {
		b := base
		b.dockerMounted = tc.mounted
		if got := dockerHost(tc.value, rw, b); got != tc.want {
			t.Errorf("dockerHost(%q, mounted=%v) = %q, want %q", tc.value, tc.mounted, got, tc.want)
		}
	}
}

func TestWorkingDir(t *testing.T) {
	rw := newPathRewriter([]pathMapping{{containerPath: "/workspace", localPath: "/bed/v/ws"}})
	for wd, want := range map[string]string{
		"":                  "/bed/c/rootfs",
		"/workspace/src":    "/bed/v/ws/src",
		"/src":              "/bed/c/rootfs/src",
		`C:\build`:          "/bed/c/rootfs/c/build",
		"/workspace/../etc": "/bed/c/rootfs/etc",
	} {
		if got := workingDir(wd, rw, "/bed/c/rootfs"); got != want {
			t.Errorf("workingDir(%q) = %q, want %q", wd, got, want)
		}
	}
}

func TestReplaceEmbeddedTerminationPath(t *testing.T) {
	got := replaceEmbedded([]string{"sh", "-c", "echo ok > /dev/termination-log; cat /dev/termination-log", "/local/tl"}, "/dev/termination-log", "/local/tl")
	if got[2] != "echo ok > /local/tl; cat /local/tl" || got[3] != "/local/tl" {
		t.Errorf("replaceEmbedded = %q", got)
	}
}
