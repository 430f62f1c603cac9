package main

import (
	"errors"
	"flag"
	"path/filepath"

	"dockhand.dev/test/cluster/pki"
)

// Defaults shared by the control-plane subcommands; the bed contract fixes
// these loopback ports so several components agree without configuration.
const (
	defaultAPIServerURL = "https://127.0.0.1:16443"
	defaultEtcdURL      = "http://127.0.0.1:12379"
)

// bedDirFlag registers the --dir flag every control-plane subcommand takes.
func bedDirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", "", "test bed state directory (BED_DIR), required")
}

// bedLayout resolves --dir; the paths it yields are handed to upstream
// components as flags, so they are made absolute to not depend on the cwd.
func bedLayout(dir string) (pki.Layout, error) {
	if dir == "" {
		return pki.Layout{}, errors.New("--dir is required (the bed state directory, e.g. $DOCKHAND_BED_DIR)")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return pki.Layout{}, err
	}
	return pki.BedLayout(abs), nil
}
