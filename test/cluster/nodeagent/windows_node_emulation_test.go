package nodeagent

import (
	"reflect"
	"testing"
)

func TestEmulateWindowsCommand(t *testing.T) {
	cases := []struct{ in, want []string }{
		{[]string{"docker.exe", "build", "."}, []string{"docker", "build", "."}},
		{[]string{`C:\Program Files\Docker\docker.EXE`, "push", "x"}, []string{"docker", "push", "x"}},
		{[]string{"cmd", "/c", "docker build . && docker push x"}, []string{"sh", "-c", "docker build . && docker push x"}},
		{[]string{"cmd.exe", "/S", "/C", "echo", "hi"}, []string{"sh", "-c", "echo hi"}},
		{[]string{"/bed/v/tools/run.sh", "a"}, []string{"/bed/v/tools/run.sh", "a"}}, // a rewritten local path stays
		{[]string{"buildctl", "build"}, []string{"buildctl", "build"}},
		{[]string{"cmd"}, []string{"cmd"}},
	}
	for _, tc := range cases {
		if got := emulateWindowsCommand(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("emulateWindowsCommand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWindowsPathShapes(t *testing.T) {
	for p, want := range map[string]bool{
		`C:\x`: true, `c:/x`: true, `C:`: true, `\\.\pipe\docker_engine`: true, `//./pipe/x`: true,
		`/var/run`: false, `C:x`: false, `1:\x`: false, ``: false, `docker`: false,
	} {
		if got := isWindowsStylePath(p); got != want {
			t.Errorf("isWindowsStylePath(%q) = %v", p, got)
		}
	}
	if !isDockerEngineNamedPipe(`//./PIPE/docker_engine`) || isDockerEngineNamedPipe(`\\.\pipe\other`) {
		t.Error("isDockerEngineNamedPipe")
	}
	if p, ok := namedPipeFromDockerHost("npipe:////./pipe/docker_engine"); !ok || p != dockerEngineNamedPipe {
		t.Errorf("namedPipeFromDockerHost = %q, %v", p, ok)
	}
	if _, ok := namedPipeFromDockerHost("unix:///x"); ok {
		t.Error("unix:// is no named pipe")
	}
	if got := underRoot("/r", `C:\dockhand\..\..\cache`); got != "/r/cache" {
		t.Errorf("underRoot = %q", got)
	}
	if got := underRoot("/r", dockerEngineNamedPipe); got != "/r/pipe/docker_engine" {
		t.Errorf("underRoot pipe = %q", got)
	}
}
