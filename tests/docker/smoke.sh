#!/usr/bin/env bash
# Smoke test of the aca-bench Docker image, for a Debian machine without registry access or a GPU.
#
#   sudo tests/docker/smoke.sh            # from anywhere; takes ~10-20 minutes cold
#
# It
#   1. installs docker.io + debootstrap when missing and starts dockerd when it is not running;
#   2. builds a local base image (Debian bookworm via debootstrap from the machine's apt mirror, with
#      python3.11 + venv, and the host's extra CA certificates where present), cached by tag;
#   3. builds the aca-bench image on that base (BASE_IMAGE build argument, FETCH_DATA=0: no internet
#      for MNIST/ResNet-50 here); wheels come from PyPI, or, where the host pip is configured with
#      file:// indexes (a local wheel mirror), from that mirror served over http on 127.0.0.1;
#   4. runs `docker run -v "$OUT:/out" aca-bench --suite quick` and checks that the mounted folder
#      holds the results store (records.jsonl) and the site (site/index.html);
#   5. (SMOKE_REBUILD=1, default) times a rebuild after a source-only change, on a copy of the context.
#
# Environment knobs:
#   IMAGE=aca-bench             tag of the image under test
#   BASE_TAG=aca-bench-base:bookworm   tag of the local base image (rebuilt only if missing/stale)
#   SMOKE_OUT=DIR               the folder mounted at /out (default: a fresh mktemp dir)
#   SMOKE_SUITE=quick           the suite to run
#   SMOKE_MIRROR=auto|off       serve the host pip's file:// indexes to the build (auto) or not
#   SMOKE_REBUILD=1|0           also time a rebuild after a source-only change
#   DEBIAN_MIRROR=URL           override the apt mirror used by debootstrap
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IMAGE=${IMAGE:-aca-bench}
BASE_TAG=${BASE_TAG:-aca-bench-base:bookworm}
SUITE=${SMOKE_SUITE:-quick}
MIRROR=${SMOKE_MIRROR:-auto}
REBUILD=${SMOKE_REBUILD:-1}
LOGDIR=$(mktemp -d /tmp/aca-smoke-logs.XXXXXX)
export DOCKER_BUILDKIT=0   # the classic builder: Debian's docker.io ships no buildx; works everywhere
T0=$SECONDS

say()  { printf '\n== %s\n' "$*"; }
info() { printf '   %s\n' "$*"; }
fail() { printf '\nSMOKE FAIL: %s\n' "$*" >&2; exit 1; }
hms()  { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# a value from the host pip's configuration (files and PIP_* env), e.g. pipconf cert
pipconf() { python3 -m pip config list 2>/dev/null | sed -n "s/^[^.]*\.$1='\(.*\)'\$/\1/p" | tail -1; }

# docker build with each output line stamped by elapsed seconds; prints per-step times afterwards
build() {  # build LOG ARGS...
    local log=$1 t0=$SECONDS; shift
    set +e
    $DOCKER build "$@" 2>&1 | while IFS= read -r line; do printf '%5d %s\n' $((SECONDS - t0)) "$line"; done >"$log"
    local rc=${PIPESTATUS[0]}
    set -e
    return "$rc"
}
steps() {  # the FROM/RUN/COPY steps of a stamped build log: duration, and "cached" where the cache served
    awk 'function flush() { if (label != "") printf "%5ds %-6s %s\n", last - start, cached ? "cached" : "", substr(label, 1, 86) }
         { last = $1 }
         $2 == "Step" { flush(); start = $1; cached = 0; label = $0; sub(/^ *[0-9]+ Step [0-9]+\/[0-9]+ : /, "", label)
                        if (label !~ /^(FROM|RUN|COPY) /) label = "" }
         / ---> Using cache/ { cached = 1 }
         END { flush() }' "$1" | sed 's/^/   /'
}
hsize() { awk -v b="$1" 'BEGIN { printf "%.2f GB", b / 1e9 }'; }

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# --- 1. engine -----------------------------------------------------------------------------------
say "1/5 Docker engine"
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    info "installing ${missing[*]} with apt-get"
    $SUDO apt-get update -qq >"$LOGDIR/apt.log" 2>&1
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >>"$LOGDIR/apt.log" 2>&1 \
        || { tail -20 "$LOGDIR/apt.log"; fail "apt-get install ${missing[*]}"; }
fi
if ! $SUDO docker info >/dev/null 2>&1; then
    info "starting dockerd (log: /tmp/aca-smoke-dockerd.log)"
    $SUDO sh -c 'nohup dockerd >/tmp/aca-smoke-dockerd.log 2>&1 &'
    for _ in $(seq 60); do $SUDO docker info >/dev/null 2>&1 && break; sleep 1; done
    $SUDO docker info >/dev/null 2>&1 || { tail -20 /tmp/aca-smoke-dockerd.log; fail "dockerd did not start"; }
fi
DOCKER="$SUDO docker"
info "$($DOCKER version --format 'client {{.Client.Version}}, engine {{.Server.Version}}')"

# --- 2. local base image -------------------------------------------------------------------------
say "2/5 Base image $BASE_TAG (debootstrap bookworm + python3.11)"
# the host's extra CA certificates (TLS-intercepting proxies), where present
CA_FILES=()
if [ -d /usr/local/share/ca-certificates ]; then
    while IFS= read -r -d '' f; do CA_FILES+=("$f"); done \
        < <(find /usr/local/share/ca-certificates -type f -name '*.crt' -print0 | sort -z)
fi
PIP_CERT_HOST=$(pipconf cert)
if [ -n "$PIP_CERT_HOST" ] && [ -f "$PIP_CERT_HOST" ] && [ "$PIP_CERT_HOST" != /etc/ssl/certs/ca-certificates.crt ]; then
    CA_FILES+=("$PIP_CERT_HOST")
fi
CA_SHA=$(cat "${CA_FILES[@]:-/dev/null}" | sha256sum | cut -c1-16)
have_base=$($DOCKER image inspect -f '{{index .Config.Labels "aca-bench.ca-sha"}}' "$BASE_TAG" 2>/dev/null || true)
if [ "$have_base" = "$CA_SHA" ]; then
    info "cached: $BASE_TAG (same host CA set) - skipping debootstrap"
else
    if [ -z "${DEBIAN_MIRROR:-}" ]; then
        DEBIAN_MIRROR=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
                            /etc/apt/sources.list.d/*.sources \
                        | grep -oE 'https?://[^ ]+' | grep -E '/debian/?$' | head -1 || true)
        DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
    fi
    ROOTFS=$(mktemp -d /tmp/aca-smoke-rootfs.XXXXXX)
    info "debootstrap from $DEBIAN_MIRROR (log: $LOGDIR/debootstrap.log)"
    t=$SECONDS
    $SUDO debootstrap --variant=minbase --include=python3.11,python3.11-venv,python3-pip,ca-certificates \
        bookworm "$ROOTFS" "$DEBIAN_MIRROR" >"$LOGDIR/debootstrap.log" 2>&1 \
        || { tail -20 "$LOGDIR/debootstrap.log"; fail "debootstrap"; }
    if [ ${#CA_FILES[@]} -gt 0 ]; then
        info "adding ${#CA_FILES[@]} host CA certificate file(s): ${CA_FILES[*]}"
        $SUDO mkdir -p "$ROOTFS/usr/local/share/ca-certificates/host"
        for f in "${CA_FILES[@]}"; do
            $SUDO cp "$f" "$ROOTFS/usr/local/share/ca-certificates/host/$(basename "${f%.*}").crt"
        done
        $SUDO chroot "$ROOTFS" update-ca-certificates >>"$LOGDIR/debootstrap.log" 2>&1
    else
        info "no extra host CA certificates found"
    fi
    $SUDO rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
    $SUDO tar -C "$ROOTFS" -c . | $DOCKER import \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
        --change "LABEL aca-bench.ca-sha=$CA_SHA" \
        --change 'CMD ["/bin/bash"]' - "$BASE_TAG" >/dev/null
    $SUDO rm -rf "$ROOTFS"
    info "built $BASE_TAG in $(hms $((SECONDS - t)))"
fi
info "$($DOCKER run --rm "$BASE_TAG" python3.11 --version)"

# --- 3. build the image --------------------------------------------------------------------------
say "3/5 Build $IMAGE (BASE_IMAGE=$BASE_TAG, FETCH_DATA=0)"
BUILD_ARGS=(--network host --build-arg "BASE_IMAGE=$BASE_TAG" --build-arg FETCH_DATA=0)
COMMIT=$(git -C "$REPO" rev-parse --verify -q HEAD 2>/dev/null || true)
[ -z "$COMMIT" ] || BUILD_ARGS+=(--build-arg "GIT_COMMIT=$COMMIT")
if [ "$MIRROR" = auto ]; then
    # the host pip's file:// indexes (e.g. file:///opt/pypi/simple), served read-only on 127.0.0.1
    urls=()
    for u in $(pipconf extra-index-url); do
        case "$u" in file://*) ;; *) continue ;; esac
        dir=${u#file://}; dir=${dir%/}
        [ -d "$dir" ] || continue
        # fixed ports: build-arg values are part of the build cache key
        port=$(python3 - "$((${SMOKE_MIRROR_PORT:-38470} + ${#urls[@]}))" <<'PY'
import socket, sys
p = int(sys.argv[1])
while True:
    try:
        socket.create_server(("127.0.0.1", p)).close(); print(p); break
    except OSError:
        p += 10
PY
)
        python3 -m http.server "$port" --bind 127.0.0.1 --directory "$(dirname "$dir")" \
            >>"$LOGDIR/mirror.log" 2>&1 &
        PIDS+=($!)
        urls+=("http://127.0.0.1:$port/$(basename "$dir")")
    done
    if [ ${#urls[@]} -gt 0 ]; then
        python3 - "${urls[0]}/" <<'PY' || fail "the local wheel mirror did not start"
import sys, time, urllib.request
for _ in range(50):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=2); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(1)
PY
        info "wheel mirror: ${urls[*]} (the host pip's file:// indexes); PyPI for the rest"
        BUILD_ARGS+=(--build-arg "PIP_EXTRA_INDEX_URL=${urls[*]}" --build-arg PIP_TRUSTED_HOST=127.0.0.1)
    else
        info "wheel mirror: none configured on the host; wheels come from PyPI"
    fi
fi
info "log: $LOGDIR/build.log"
t=$SECONDS
build "$LOGDIR/build.log" "${BUILD_ARGS[@]}" -t "$IMAGE" "$REPO" || { tail -40 "$LOGDIR/build.log"; fail "docker build"; }
BUILD_S=$((SECONDS - t))
steps "$LOGDIR/build.log"
info "build time: $(hms $BUILD_S)"
SIZE=$($DOCKER image inspect -f '{{.Size}}' "$IMAGE")
info "image size: $(hsize "$SIZE") ($SIZE bytes); largest layers:"
$DOCKER history --no-trunc --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" | grep -vE '^0B' | sort -h -r | head -4 \
    | sed -E 's#\t.*/bin/sh -c (\#\(nop\) )?#\t#; s#\t$#\t(base image)#; s/  +/ /g' | cut -c1-100 | sed 's/^/     /'

# --- 4. run the suite ----------------------------------------------------------------------------
say "4/5 Run: docker run -v \"\$OUT:/out\" $IMAGE --suite $SUITE"
OUT=${SMOKE_OUT:-$(mktemp -d /tmp/aca-smoke-out.XXXXXX)}
mkdir -p "$OUT"
IMG_UID=$($DOCKER run --rm --entrypoint id "$IMAGE" -u)
[ "$IMG_UID" != 0 ] || fail "the image runs as root"
$SUDO chown "$IMG_UID" "$OUT"   # the image's non-root user (uid $IMG_UID) writes the results
info "OUT=$OUT (owned by uid $IMG_UID, the image's user); log: $LOGDIR/run.log"
$DOCKER run --rm "$IMAGE" --help >"$LOGDIR/help.log" 2>&1 || fail "docker run $IMAGE --help"
info "--help: $(grep -c . "$LOGDIR/help.log") lines; first: $(head -1 "$LOGDIR/help.log")"
t=$SECONDS
set +e
$DOCKER run --rm -v "$OUT:/out" "$IMAGE" --suite "$SUITE" 2>&1 | stdbuf -oL tr '\r' '\n' \
    | tee "$LOGDIR/run.log" | grep --line-buffered -v '^[[:space:]]*$' | cut -c1-130 | sed -u 's/^/   | /'
rc=${PIPESTATUS[0]}
set -e
RUN_S=$((SECONDS - t))
[ "$rc" -eq 0 ] || fail "docker run exited with $rc (full log: $LOGDIR/run.log)"
info "container run time for '$SUITE': $(hms $RUN_S)"

# --- 5. checks -----------------------------------------------------------------------------------
say "5/5 Checks on the mounted folder $OUT"
ok() { printf '   ok    %s\n' "$*"; }
grep -qiE '\bcpu\b' "$LOGDIR/run.log" && ok "the run says it uses the CPU (no GPU here)" \
    || fail "the run output does not say it runs on the CPU"
RECORDS=$(find "$OUT" -name records.jsonl -type f | head -1)
[ -n "$RECORDS" ] && [ -s "$RECORDS" ] || fail "no results store (records.jsonl) under $OUT"
n=$(python3 -c 'import json, sys; print(sum(1 for l in open(sys.argv[1]) if l.strip() and json.loads(l)))' "$RECORDS") \
    || fail "$RECORDS is not JSON lines"
ok "results store ${RECORDS#$OUT/}: $n records, valid JSON lines"
[ -s "$OUT/site/index.html" ] || fail "no site at $OUT/site/index.html"
grep -qi '<html' "$OUT/site/index.html" || fail "$OUT/site/index.html is not HTML"
ok "site site/index.html ($(wc -c <"$OUT/site/index.html") bytes)"
info "files left in the mounted folder:"
(cd "$OUT" && find . -type f -printf '%s\t%P\n' | sort -k2 | awk -F'\t' '{ printf "     %9d  %s\n", $1, $2 }')

# --- optional: rebuild after a source-only change ------------------------------------------------
if [ "$REBUILD" = 1 ]; then
    say "extra: rebuild after a source-only change (on a copy of the build context)"
    CTX=$(mktemp -d /tmp/aca-smoke-ctx.XXXXXX)
    tar -C "$REPO" --exclude=./.git --exclude=./.venv -c . | tar -C "$CTX" -x
    printf '\n# smoke-test edit %s\n' "$(date +%s)" >>"$CTX/benchmark/__init__.py"
    t=$SECONDS
    build "$LOGDIR/rebuild.log" "${BUILD_ARGS[@]}" -t "${IMAGE%%:*}:smoke-rebuild" "$CTX" \
        || { tail -30 "$LOGDIR/rebuild.log"; fail "rebuild"; }
    REBUILD_S=$((SECONDS - t))
    steps "$LOGDIR/rebuild.log"
    info "rebuild time: $(hms $REBUILD_S)"
    $DOCKER rmi "${IMAGE%%:*}:smoke-rebuild" >/dev/null 2>&1 || true
    rm -rf "$CTX"
fi

say "SMOKE OK in $(hms $((SECONDS - T0))): build $(hms $BUILD_S), image $(hsize "$SIZE"), '$SUITE' run $(hms $RUN_S)${REBUILD_S:+, rebuild after a code change $(hms $REBUILD_S)}"
info "results: $OUT   logs: $LOGDIR"
