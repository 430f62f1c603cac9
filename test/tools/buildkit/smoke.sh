#!/usr/bin/env bash
# Smoke test of a running bed buildkitd + registry, the way dockhand's build
# Jobs drive them: local and remote (HTTP tar.gz) contexts, a Linux image with
# RUN, a Windows image with COPY only, and registry cache export/import.
# Needs: basegen already pushed, skopeo, curl, python3, GNU tar. Step (d)
# prunes the whole builder cache: run it on a bed, not a shared buildkitd.
# Usage: BUILDCTL=/path/to/buildctl test/tools/buildkit/smoke.sh
set -euo pipefail

BUILDCTL=${BUILDCTL:-buildctl}
ADDR=${BUILDKIT_ADDR:-tcp://127.0.0.1:11234}
REG=${REGISTRY:-127.0.0.1:15000}
work=$(mktemp -d)
http_pid=
cleanup() {
	[ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
bk() { "$BUILDCTL" --addr "$ADDR" "$@"; }
out() { echo "type=image,name=$REG/$1,push=true,registry.insecure=true"; }
config() { skopeo inspect --tls-verify=false --config "docker://$REG/$1"; }
last_layer() {
	skopeo inspect --tls-verify=false --raw "docker://$REG/$1" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][-1]["digest"])'
}

mkdir -p "$work/linux" "$work/windows" "$work/remote/docker" "$work/www"

echo "== (a) linux: FROM busybox, COPY, RUN"
cat >"$work/linux/Dockerfile" <<DF
FROM $REG/dockhand-test/busybox:latest
COPY hello.txt /app/hello.txt
RUN cat /app/hello.txt > /app/copied-by-run.txt
DF
echo "hello from the bed" >"$work/linux/hello.txt"
bk build --frontend dockerfile.v0 --local context="$work/linux" --local dockerfile="$work/linux" \
	--output "$(out smoke/linux:1)" \
	--export-cache "type=registry,ref=$REG/smoke/cache:linux,mode=max,registry.insecure=true"
config smoke/linux:1 | grep -q '"os": "linux"' || fail "smoke/linux:1 is not a linux image"

echo "== (b) windows/amd64: FROM nanoserver:ltsc2022, COPY only"
cat >"$work/windows/Dockerfile" <<DF
FROM $REG/dockhand-test/nanoserver:ltsc2022
COPY app.txt C:/app/app.txt
DF
printf 'hello windows\r\n' >"$work/windows/app.txt"
bk build --frontend dockerfile.v0 --local context="$work/windows" --local dockerfile="$work/windows" \
	--opt platform=windows/amd64 --output "$(out smoke/windows:1)"
cfg=$(config smoke/windows:1)
grep -q '"os": "windows"' <<<"$cfg" || fail "smoke/windows:1 config os is not windows: $cfg"
grep -q '"os.version": "10.0.20348\.' <<<"$cfg" || fail "smoke/windows:1 lost os.version 10.0.20348.x: $cfg"
blob=$(last_layer smoke/windows:1)
curl -fsS "http://$REG/v2/smoke/windows/blobs/$blob" | tar -tz | grep -qx 'Files/app/app.txt' ||
	fail "COPY'd file is not under Files/ in layer $blob"

echo "== (c) remote context over HTTP with a Dockerfile in a subdirectory"
cat >"$work/remote/docker/Dockerfile.bed" <<DF
FROM $REG/dockhand-test/busybox:latest
COPY payload.txt /payload.txt
RUN test -s /payload.txt
DF
echo "fetched over http" >"$work/remote/payload.txt"
tar -czf "$work/www/ctx.tar.gz" -C "$work/remote" .
# Port 0 lets the kernel pick a free loopback port, so parallel beds and a
# stale server from an earlier run cannot answer in our place.
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work/www" >"$work/http.log" 2>&1 &
http_pid=$!
HTTP_PORT=
for _ in $(seq 50); do
	HTTP_PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$work/http.log")
	[ -n "$HTTP_PORT" ] && break
	sleep 0.1
done
[ -n "$HTTP_PORT" ] || fail "python3 http.server did not start: $(cat "$work/http.log")"
bk build --frontend dockerfile.v0 --opt "context=http://127.0.0.1:$HTTP_PORT/ctx.tar.gz" \
	--opt filename=docker/Dockerfile.bed --output "$(out smoke/remote:1)"

echo "== (d) registry cache import on an emptied builder"
bk prune --all >/dev/null
log=$(bk build --frontend dockerfile.v0 --local context="$work/linux" --local dockerfile="$work/linux" \
	--output "$(out smoke/linux:2)" --progress plain \
	--import-cache "type=registry,ref=$REG/smoke/cache:linux,registry.insecure=true" 2>&1)
grep -A1 '\] RUN cat' <<<"$log" | grep -q CACHED || fail "RUN step was rebuilt, cache import did not apply: $log"

echo "smoke: 4 passed, 0 failed"
