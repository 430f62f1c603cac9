# Shared by test/bed/up and test/bed/down. Sourced, not run.
# shellcheck shell=bash

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BED_DIR=${DOCKHAND_BED_DIR:-$REPO/.bed}
# Built binaries live outside the checkout, keyed by a hash of their sources,
# so a fresh clone (CI) reuses what an earlier run on this machine built.
BED_CACHE=${DOCKHAND_BED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dockhand-bed}

RUN_DIR=$BED_DIR/run
LOG_DIR=$BED_DIR/logs
BIN_DIR=$BED_DIR/bin

ETCD_URL=http://127.0.0.1:12379
APISERVER_PORT=16443
REGISTRY_ADDR=127.0.0.1:15000
BUILDKIT_ADDR=tcp://127.0.0.1:11234
DOCKER_SOCK=$BED_DIR/docker/docker.sock

# Components in start order; down stops them in reverse.
COMPONENTS=(dockerd registry buildkitd etcd apiserver controller-manager scheduler nodes)

say() { printf '[bed %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { say "error: $*"; exit 1; }

pid_of() { cat "$RUN_DIR/$1.pid" 2>/dev/null || true; }
is_running() {
  local pid
  pid=$(pid_of "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}
