#!/usr/bin/env bash
# Builds buildkitd, buildctl and basegen into OUTDIR from this module's
# go.mod/go.sum, so the BuildKit version the bed runs is the one pinned there.
# CGO off and -trimpath match how upstream ships static release binaries and
# keep the output independent of the machine's paths; -buildvcs=false keeps
# the binaries identical across commits that do not touch their sources.
set -euo pipefail
out=${1:?usage: test/tools/build.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")"
bk_version=$(go list -m -f '{{.Version}}' github.com/moby/buildkit)
CGO_ENABLED=0 go build -buildvcs=false -trimpath \
	-ldflags "-X github.com/moby/buildkit/version.Version=$bk_version" \
	-o "$out/" \
	github.com/moby/buildkit/cmd/buildkitd \
	github.com/moby/buildkit/cmd/buildctl \
	./cmd/basegen
