package main

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Config is the command line, checked.
type Config struct {
	Host     string
	Options  Options
	Interval time.Duration
	Once     bool
}

func defaultHost() string {
	if runtime.GOOS == "windows" {
		return "npipe:////./pipe/docker_engine"
	}
	return "unix:///var/run/docker.sock"
}

// flagHelp is every flag, its default and what it does: the --help text, and
// the list an unknown flag's refusal names.
var flagHelp = []struct{ name, def, help string }{
	{"host", defaultHost(), "dockerd's endpoint (npipe:// or unix://); DOCKER_HOST is not read"},
	{"keep-storage", "40Gi", "bring the images' disk use down to this (a quantity: 40Gi, 500Mi, 40G)"},
	{"keep-storage-floor", "10Gi", "the smallest --keep-storage accepted"},
	{"min-age", "15m", "remove nothing tagged or created more recently: it may belong to a build in progress"},
	{"interval", "5m", "time between passes; the first runs at start"},
	{"once", "false", "make one pass, print its summary and exit (non-zero if the pass failed)"},
	{"internal-repository", "dockhand.invalid/build/", "the prefix of the tag dockhand gives each build's image"},
}

var errHelp = errors.New("help requested")

func usage() string {
	var b strings.Builder
	b.WriteString("usage: dockhand-node-gc [--name=value]...\n")
	for _, f := range flagHelp {
		fmt.Fprintf(&b, "  --%s=%s\n      %s\n", f.name, f.def, f.help)
	}
	return b.String()
}

// parseFlags reads the command line. Every flag is written --name=value (a
// bare --once too), and the last of a repeated flag wins, so an overlay can
// append one to the DaemonSet's list. DOCKER_HOST is not read, so the
// DaemonSet's command line says everything this does.
func parseFlags(args []string) (Config, error) {
	given := map[string]string{}
	for _, f := range flagHelp {
		given[f.name] = f.def
	}
	for _, arg := range args {
		if arg == "--help" || arg == "-h" || arg == "-help" {
			return Config{}, errHelp
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if !strings.HasPrefix(arg, "--") || name == "" {
			return Config{}, fmt.Errorf("unexpected argument %q: every setting is a flag written --name=value (--help lists them)", arg)
		}
		if _, known := given[name]; !known {
			return Config{}, fmt.Errorf("unknown flag %s: the flags are %s, each written --name=value", arg, flagNames())
		}
		if !hasValue {
			if name != "once" {
				return Config{}, fmt.Errorf("--%s has no value: write --%s=%s (with '=', in one argument)", name, name, given[name])
			}
			value = "true"
		}
		given[name] = value
	}

	var cfg Config
	var err error
	if cfg.Host = given["host"]; cfg.Host == "" {
		return Config{}, fmt.Errorf("--host is empty: write dockerd's endpoint, e.g. --host=%s", defaultHost())
	}
	switch given["once"] {
	case "true":
		cfg.Once = true
	case "false":
	default:
		return Config{}, fmt.Errorf("--once=%s: write --once, or --once=false", given["once"])
	}
	if cfg.Options.KeepStorage, err = sizeFlag("keep-storage", given); err != nil {
		return Config{}, err
	}
	floor, err := sizeFlag("keep-storage-floor", given)
	if err != nil {
		return Config{}, err
	}
	if cfg.Options.KeepStorage < floor {
		return Config{}, fmt.Errorf("--keep-storage=%s is below --keep-storage-floor=%s: a Windows Server Core base image alone is about 5 GB on disk, so every pass would evict the base the next build needs; keep at least %s (lower --keep-storage-floor only where base images are small, e.g. tests)",
			given["keep-storage"], given["keep-storage-floor"], given["keep-storage-floor"])
	}
	if cfg.Options.MinAge, err = durationFlag("min-age", given); err != nil {
		return Config{}, err
	}
	if cfg.Options.MinAge < 0 {
		return Config{}, fmt.Errorf("--min-age=%s is negative: write a duration like 15m (0s removes regardless of age)", given["min-age"])
	}
	if cfg.Interval, err = durationFlag("interval", given); err != nil {
		return Config{}, err
	}
	if cfg.Interval <= 0 {
		return Config{}, fmt.Errorf("--interval=%s is not positive: write a duration like 5m", given["interval"])
	}
	if cfg.Options.InternalRepository = given["internal-repository"]; cfg.Options.InternalRepository == "" {
		return Config{}, errors.New("--internal-repository is empty: write the prefix of dockhand's internal tags, --internal-repository=dockhand.invalid/build/")
	}
	return cfg, nil
}

func flagNames() string {
	names := make([]string, len(flagHelp))
	for i, f := range flagHelp {
		names[i] = "--" + f.name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func sizeFlag(name string, given map[string]string) (int64, error) {
	n, err := parseQuantity(given[name])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--%s=%s is not a size: write a quantity like 40Gi, 500Mi or 40G (Ki, Mi, Gi, Ti; k, M, G, T; or plain bytes)", name, given[name])
	}
	return n, nil
}

func durationFlag(name string, given map[string]string) (time.Duration, error) {
	d, err := time.ParseDuration(given[name])
	if err != nil {
		return 0, fmt.Errorf("--%s=%s is not a duration: write one like 15m, 90s or 1h30m", name, given[name])
	}
	return d, nil
}
