package nodeagent

import "testing"

func TestPathRewriter(t *testing.T) {
	rw := newPathRewriter([]pathMapping{
		{containerPath: "/workspace", localPath: "/bed/v/ws"},
		{containerPath: "/workspace/cache/", localPath: "/bed/v/cache"},
		{containerPath: "/var/run/docker.sock", localPath: "/bed/docker.sock"},
		{containerPath: `C:\dockhand\config`, localPath: "/bed/v/config"},
		{containerPath: dockerEngineNamedPipe, localPath: "/bed/docker.sock"},
		{containerPath: "/dev/termination-log", localPath: "/bed/c/termination-log"},
	})
	cases := map[string]string{
		"/workspace":                     "/bed/v/ws",
		"/workspace/":                    "/bed/v/ws",
		"/workspace/Dockerfile":          "/bed/v/ws/Dockerfile",
		`/workspace\sub\file`:            "/bed/v/ws/sub/file",
		"/workspace/cache/layer":         "/bed/v/cache/layer", // the nested mount wins
		"/workspaces":                    "/workspaces",        // a prefix of a name is no path prefix
		"-f/workspace/x":                 "-f/workspace/x",     // only whole values and prefixes
		"/dev/termination-log":           "/bed/c/termination-log",
		`C:\dockhand\config`:             "/bed/v/config",
		`c:/DOCKHAND/config/ca.crt`:      "/bed/v/config/ca.crt",
		`C:\dockhand\config\certs\a.pem`: "/bed/v/config/certs/a.pem",
		`C:\dockhand\configuration`:      `C:\dockhand\configuration`,
		"unix:///var/run/docker.sock":    "unix:///bed/docker.sock",
		"npipe:////./pipe/docker_engine": "unix:///bed/docker.sock",
		`npipe://\\.\pipe\docker_engine`: "unix:///bed/docker.sock",
		"npipe:////./pipe/other":         "npipe:////./pipe/other",
		"tcp://127.0.0.1:2375":           "tcp://127.0.0.1:2375",
		"":                               "",
	}
	for in, want := range cases {
		if got := rw.rewrite(in); got != want {
			t.Errorf("rewrite(%q) = %q, want %q", in, got, want)
		}
	}
	args := rw.rewriteArgs([]string{
		"buildctl", "--metadata-file=/dev/termination-log", "--tlscacert=/workspace/certs/ca.crt",
		"--opt=context=/workspace", "--tag=/workspace", "-o=/workspace/out", "/workspace=x", "--file=Dockerfile",
	})
	want := []string{
		"buildctl", "--metadata-file=/bed/c/termination-log", "--tlscacert=/bed/v/ws/certs/ca.crt",
		"--opt=context=/workspace", "--tag=/bed/v/ws", "-o=/bed/v/ws/out", "/workspace=x", "--file=Dockerfile",
	}
	for i := range want {
		if args[i] != want[i] {
			t.Errorf("rewriteArgs[%d] = %q, want %q", i, args[i], want[i])
		}
	}
	if got := rw.rewriteArgs(nil); got != nil {
		t.Errorf("rewriteArgs(nil) = %v", got)
	}
}

func TestCutPathPrefixRoots(t *testing.T) {
	for _, tc := range []struct {
		value, prefix, rest string
		ok                  bool
	}{
		{"/etc/x", "/", "etc/x", true},
		{`D:\x\y`, `D:\`, "x/y", true},
		{`D:\x`, `C:\`, "", false},
		{`\\.\pipe\docker_engine`, `\\.\pipe\docker_engine`, "", true},
		{`//./pipe/docker_engine`, `\\.\pipe\docker_engine`, "", true},
	} {
		rest, ok := cutPathPrefix(tc.value, trimTrailingSeparators(tc.prefix))
		if rest != tc.rest || ok != tc.ok {
			t.Errorf("cutPathPrefix(%q, %q) = %q, %v; want %q, %v", tc.value, tc.prefix, rest, ok, tc.rest, tc.ok)
		}
	}
}
