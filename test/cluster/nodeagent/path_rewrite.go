package nodeagent

import (
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// pathMapping ties a path as the pod spec writes it (a volumeMount's
// mountPath, a terminationMessagePath) to the local file or directory that
// stands in for it. The node agent runs container command lines as host
// processes, so there is no mount namespace to make mountPath real: the agent
// rewrites the strings the process sees instead.
type pathMapping struct {
	containerPath string
	localPath     string
}

// pathRewriter rewrites command, args, env values and workingDir so that any
// value equal to a mapped container path, or beginning with it followed by a
// separator, points at the local path (for args also the value of
// --flag=value). A path inside a shell script string (sh -c "cat /data/x")
// is left alone: parsing shell would guess wrong more often than not.
type pathRewriter struct {
	mappings []pathMapping // longest container path first, so nested mounts win
}

func newPathRewriter(mappings []pathMapping) *pathRewriter {
	ms := make([]pathMapping, 0, len(mappings))
	for _, m := range mappings {
		if m.containerPath == "" {
			continue
		}
		ms = append(ms, pathMapping{containerPath: trimTrailingSeparators(m.containerPath), localPath: m.localPath})
	}
	sort.SliceStable(ms, func(i, j int) bool {
		return len(ms[i].containerPath) > len(ms[j].containerPath)
	})
	return &pathRewriter{mappings: ms}
}

// localPathFor returns the local path for value if value is a mapped
// container path or lies beneath one.
func (r *pathRewriter) localPathFor(value string) (string, bool) {
	for _, m := range r.mappings {
		rest, ok := cutPathPrefix(value, m.containerPath)
		if !ok {
			continue
		}
		if rest == "" {
			return m.localPath, true
		}
		// "/workspace/../etc" is not under /workspace.
		if clean := path.Clean(rest); clean == ".." || strings.HasPrefix(clean, "../") {
			continue
		}
		return filepath.Join(m.localPath, filepath.FromSlash(rest)), true
	}
	return "", false
}

// rewrite applies the path rewrite and the daemon-address rewrite (unix:// and
// npipe:// URLs naming a mounted socket) to one string.
func (r *pathRewriter) rewrite(value string) string {
	if local, ok := r.localPathFor(value); ok {
		return local
	}
	if rest, ok := strings.CutPrefix(value, "unix://"); ok {
		if local, ok := r.localPathFor(rest); ok {
			return "unix://" + local
		}
	}
	if pipe, ok := namedPipeFromDockerHost(value); ok {
		if local, ok := r.localPathFor(pipe); ok {
			return "unix://" + local
		}
	}
	return value
}

// rewriteArg rewrites a command-line element: the whole element, or else
// the value of a --flag=value element. dockhand's build Jobs write every flag
// in that form (buildctl --metadata-file=/dev/termination-log,
// --tlscacert=<mount>/ca.crt), so a path there must reach the local file too.
func (r *pathRewriter) rewriteArg(arg string) string {
	if out := r.rewrite(arg); out != arg {
		return out
	}
	if strings.HasPrefix(arg, "-") {
		if i := strings.IndexByte(arg, '='); i > 0 {
			if v := r.rewrite(arg[i+1:]); v != arg[i+1:] {
				return arg[:i+1] + v
			}
		}
	}
	return arg
}

func (r *pathRewriter) rewriteArgs(args []string) []string {
	if args == nil {
		return nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = r.rewriteArg(a)
	}
	return out
}

// cutPathPrefix reports whether value is prefix or starts with prefix
// followed by '/' or '\', and returns the remainder with '/' separators and
// no leading separator. Windows-style paths compare case-insensitively and
// with either separator, as Windows itself does.
func cutPathPrefix(value, prefix string) (string, bool) {
	if value == prefix {
		return "", true
	}
	v, p := value, prefix
	if isWindowsStylePath(prefix) {
		v, p = windowsPathKey(value), windowsPathKey(prefix)
		if v == p {
			return "", true
		}
	}
	if !strings.HasPrefix(v, p) || len(v) == len(p) {
		return "", false
	}
	// A root prefix ("/", `C:\`) already ends in its separator.
	if last := p[len(p)-1]; last != '/' && last != '\\' {
		if sep := v[len(p)]; sep != '/' && sep != '\\' {
			return "", false
		}
	}
	rest := value[len(prefix):]
	rest = strings.ReplaceAll(rest, `\`, "/")
	return strings.TrimLeft(rest, "/"), true
}

func trimTrailingSeparators(p string) string {
	for len(p) > 1 && (strings.HasSuffix(p, "/") || strings.HasSuffix(p, `\`)) {
		if isWindowsDriveRoot(p) {
			break
		}
		p = p[:len(p)-1]
	}
	return p
}
