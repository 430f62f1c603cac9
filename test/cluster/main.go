// Command testcluster runs the parts of dockhand's test bed that come from the
// upstream Kubernetes Go modules: embedded etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, and a node agent that stands in for
// kubelets. Each part is a subcommand so the bed can start, watch and stop them
// as separate processes (their global state — flags, metrics registries,
// feature gates — is not meant to be shared in one process).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// subcommand is one part of the bed; each file registers its own in init().
type subcommand struct {
	summary string
	run     func(args []string) error
}

var subcommands = map[string]subcommand{}

func register(name, summary string, run func(args []string) error) {
	if _, dup := subcommands[name]; dup {
		panic("testcluster: subcommand registered twice: " + name)
	}
	subcommands[name] = subcommand{summary: summary, run: run}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: testcluster <subcommand> [flags]")
	names := make([]string, 0, len(subcommands))
	for name := range subcommands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(os.Stderr, "  %-20s %s\n", name, subcommands[name].summary)
	}
}

func main() {
	// A symlink named kubectl makes this binary usable wherever tests or
	// scripts expect kubectl on PATH.
	if filepath.Base(os.Args[0]) == "kubectl" {
		if err := runKubectl(os.Args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "kubectl: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmd, ok := subcommands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "testcluster: unknown subcommand %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "testcluster %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
