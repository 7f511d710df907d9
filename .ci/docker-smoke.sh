#!/usr/bin/env bash
# Docker smoke test (issue 10): build the debug and keystrokes worker images and the sandbox
# image, run the sandbox demo in containers, and check that a session of each is analysed end
# to end (the keystroke session's paste must be found: a real analyser, not only the debug one).
#
#   .ci/docker-smoke.sh          everything: engine, base image, build, demo, teardown
#   .ci/docker-smoke.sh base     only make sure the local python:3.11-slim base exists
#
# No image registry is reachable here, so `FROM python:3.11-slim` is satisfied by a Debian
# bookworm root made with debootstrap (python3 3.11, python3-venv, the machine's CA bundle so
# pip works inside builds), imported under that tag and cached as a tarball in $CACHE_DIR.
# All traffic stays on loopback: dockerd runs without a bridge or iptables rules, builds and
# containers use host networking, the sandbox serves on 127.0.0.1 on free ports.
# If the engine cannot start, the script says so loudly and exits 3: it never passes silently.
#
# Environment: ML_DOCKER_CACHE (default /var/cache/ml-service-docker), SMOKE_TIMEOUT_S (180),
# SMOKE_KEEP=1 (leave the containers running), SMOKE_REQUIRE_HEALTH=1 (fail if /healthz is not served).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_TAG=python:3.11-slim
CACHE_DIR=${ML_DOCKER_CACHE:-/var/cache/ml-service-docker}
BASE_TARBALL=$CACHE_DIR/python-3.11-slim-bookworm-debootstrap.tar.gz
# The Debian mirror this machine's apt already uses (first URIs line of its sources).
MIRROR=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)}
TIMEOUT_S=${SMOKE_TIMEOUT_S:-180}
WORK=$(mktemp -d /tmp/ml-service-smoke.XXXXXX)
WORKERS=(debug keystrokes)  # the worker services run (each <name>_service, queue <name>)
PROJECT=mlsmoke$$
STARTED_DOCKERD=""
T0=$(date +%s)

log() { printf '[docker-smoke %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

loud() {
    printf '\n%s\n' "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    printf '!!! DOCKER SMOKE TEST NOT RUN: %s\n' "$*" >&2
    printf '%s\n\n' "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
}

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        loud "needs root (to start dockerd and run debootstrap); run it as root or in CI"
        exit 3
    fi
}

# -- engine -------------------------------------------------------------------------------
install_debian_tools() {
    local missing=()
    export PATH=$PATH:/usr/sbin:/sbin
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get -o DPkg::Lock::Timeout=300 update -qq &&
           apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"; } \
           >"$WORK/apt.log" 2>&1; then
        tail -n 20 "$WORK/apt.log" >&2
        loud "could not install ${missing[*]} with apt-get, so there is no Docker engine to test with"
        exit 3
    fi
}

start_engine() {
    if docker info >/dev/null 2>&1; then
        log "using the running Docker engine ($(docker version --format '{{.Server.Version}}'))"
        return 0
    fi
    log "starting dockerd (no bridge, no iptables rules: containers use the host network)"
    nice -n 10 dockerd --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
        >"$WORK/dockerd.log" 2>&1 &
    STARTED_DOCKERD=$!
    local i
    for i in $(seq 1 60); do
        docker info >/dev/null 2>&1 && { log "dockerd ready after $((i / 2)) s"; return 0; }
        kill -0 "$STARTED_DOCKERD" 2>/dev/null || break
        sleep 0.5
    done
    tail -n 20 "$WORK/dockerd.log" >&2 || true
    loud "the Docker engine (dockerd) could not start on this machine; see the log above"
    STARTED_DOCKERD=""
    exit 3
}

# -- base image ---------------------------------------------------------------------------
ensure_base() {
    if docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
        log "base $BASE_TAG present ($(docker image inspect -f '{{index .Config.Labels "org.ml-service.base"}}' "$BASE_TAG" 2>/dev/null || true))"
        return 0
    fi
    if [ ! -s "$BASE_TARBALL" ]; then
        build_base_tarball
    fi
    log "importing $BASE_TARBALL as $BASE_TAG"
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'LABEL org.ml-service.base="debootstrap bookworm python3 (local stand-in for python:3.11-slim)"' \
        --change 'CMD ["python3"]' \
        "$BASE_TARBALL" "$BASE_TAG" >/dev/null
}

build_base_tarball() {
    local t root
    t=$(date +%s)
    root=$WORK/rootfs
    log "debootstrap of Debian bookworm with python3 into $root (about a minute)"
    nice -n 10 debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -n 30 "$WORK/debootstrap.log" >&2; log "debootstrap failed"; exit 1; }
    cat >"$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
SOURCES
    add_machine_cas "$root"
    # Like the official image: `python` on PATH, pip usable without PEP 668's marker.
    ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
    rm -f "$root"/usr/lib/python3.*/EXTERNALLY-MANAGED
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$root/etc/pip.conf"
    chroot "$root" apt-get clean
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
        "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/tmp/*
    mkdir -p "$CACHE_DIR"
    tar -C "$root" --numeric-owner -czf "$BASE_TARBALL.part" .
    mv "$BASE_TARBALL.part" "$BASE_TARBALL"
    rm -rf "$root"
    log "base tarball cached: $BASE_TARBALL ($(du -h "$BASE_TARBALL" | cut -f1), $(( $(date +%s) - t )) s)"
}

add_machine_cas() {
    # Certificates this machine trusts beyond Debian's set (e.g. an egress proxy's CA) go to
    # /usr/local/share/ca-certificates, so they survive update-ca-certificates in later builds.
    local root=$1
    python3 - "$root" <<'PY'
import re, sys
from pathlib import Path
root = Path(sys.argv[1])
pem = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
def certs(path):
    return set(pem.findall(Path(path).read_text()))
extra = certs("/etc/ssl/certs/ca-certificates.crt") - certs(root / "etc/ssl/certs/ca-certificates.crt")
for n, cert in enumerate(sorted(extra)):
    (root / f"usr/local/share/ca-certificates/machine-{n}.crt").write_text(cert + "\n")
print(f"{len(extra)} machine CA certificate(s) added")
PY
    chroot "$root" update-ca-certificates >/dev/null 2>&1
}

# -- build, run, check ----------------------------------------------------------------------
compose() {
    ML_SERVICE_TAG=smoke docker-compose -p "$PROJECT" -f docker-compose.yml -f "$WORK/compose.override.yml" \
        --profile sandbox "$@"
}

free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

write_secrets_and_override() {
    local m xq pf mp
    read -r xq pf mp <<<"$(free_ports 3)"
    export SANDBOX_XQUEUE_PORT=$xq SANDBOX_PLATFORM_PORT=$pf
    DEMO_QUEUES=$(IFS=,; echo "${WORKERS[*]}")
    export DEMO_QUEUES
    METRICS_PORT=$mp
    mkdir -p "$WORK/secrets"
    python3 -c 'import secrets; print("ml_service:" + secrets.token_urlsafe(18), end="")' >"$WORK/secrets/xqueue_auth"
    for m in webcam screencast audio keystrokes debug; do
        python3 -c 'import secrets; print(secrets.token_urlsafe(24), end="")' >"$WORK/secrets/${m}_client_secret"
    done
    chown 10001:10001 "$WORK"/secrets/*
    chmod 0400 "$WORK"/secrets/*
    {
        echo "services:"
        for m in "${WORKERS[@]}"; do
            echo "  ${m}_service:"
            echo "    restart: \"no\""
            echo "    environment:"
            echo "      XQUEUE_URL: http://127.0.0.1:$xq"
            echo "      PLATFORM_URL: http://127.0.0.1:$pf"
            [ "$m" = debug ] && echo "      ML_METRICS_PORT: \"$mp\""
            echo "      ML_POLL_MAX_INTERVAL_S: \"2\""
            echo "      ML_BACKOFF_MAX_S: \"4\""
            echo "      ML_HEARTBEAT_S: \"5\""
        done
        echo "secrets:"
        echo "  xqueue_auth:"
        echo "    file: $WORK/secrets/xqueue_auth"
        for m in webcam screencast audio keystrokes debug; do
            echo "  ${m}_client_secret:"
            echo "    file: $WORK/secrets/${m}_client_secret"
        done
    } >"$WORK/compose.override.yml"
    log "sandbox on 127.0.0.1:$xq (XQueue) and 127.0.0.1:$pf (platform); debug metrics on :$mp"
}

services() { printf '%s_service ' "${WORKERS[@]}"; }

build_images() {
    local t
    t=$(date +%s)
    log "docker-compose build $(services)sandbox"
    # shellcheck disable=SC2046 # one word per service
    if ! compose build --force-rm $(services) sandbox >"$WORK/build.log" 2>&1; then
        tail -n 40 "$WORK/build.log" >&2
        log "FAILED: the build"
        exit 1
    fi
    BUILD_S=$(( $(date +%s) - t ))
    log "built in ${BUILD_S} s ($(grep -c 'Using cache' "$WORK/build.log" || true) cached steps)"
}

run_demo() {
    local t rc id
    t=$(date +%s)
    log "docker-compose --profile sandbox up: sandbox, $(services)demo_submitter (queues $DEMO_QUEUES)"
    # shellcheck disable=SC2046
    compose up -d --no-build sandbox $(services) demo_submitter >"$WORK/up.log" 2>&1 \
        || { cat "$WORK/up.log" >&2; log "FAILED: compose up"; exit 1; }
    id=$(compose ps -q demo_submitter)
    rc=$(timeout "$TIMEOUT_S" docker wait "$id" || echo timeout)
    compose logs --no-color demo_submitter | sed 's/^/    /'
    if [ "$rc" != 0 ]; then
        # shellcheck disable=SC2046
        compose logs --no-color --tail 60 sandbox $(services) | sed 's/^/    /' >&2
        log "FAILED: demo_submitter ended with '$rc' (0 = every session answered without error)"
        exit 1
    fi
    check_results
    check_health
    for m in "${WORKERS[@]}"; do stop_worker "${m}_service"; done
    DEMO_S=$(( $(date +%s) - t ))
}

check_results() {
    # The sandbox's own record, read from the host: a result with error_code 0 from every worker,
    # and the keystroke session's paste found by the keystrokes analyser in its container.
    python3 - "http://127.0.0.1:$SANDBOX_PLATFORM_PORT/api/results" "${WORKERS[@]}" <<'PY'
import json, sys, urllib.request
rows = json.load(urllib.request.urlopen(sys.argv[1], timeout=10))
ok = True
for queue in sys.argv[2:]:
    good = [r["body"]["result"] for r in rows if r["queue"] == queue and isinstance(r["body"], dict)
            and r["body"].get("result", {}).get("error_code") == 0]
    found = sorted({v["type"] for res in good for v in res.get("violations", [])})
    print(f"    /api/results: {queue}: {len(good)} result(s) with error_code 0, found {found or 'nothing'}")
    ok = ok and bool(good) and (queue != "keystrokes" or "paste_burst" in found)
sys.exit(0 if ok else 1)
PY
}

check_health() {
    local status
    status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' \
        "$(compose ps -q debug_service)")
    if python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)" \
        "http://127.0.0.1:$METRICS_PORT/healthz" 2>/dev/null; then
        log "debug_service /healthz answers 200; container health: $status"
        python3 -c "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())" \
            "http://127.0.0.1:$METRICS_PORT/metrics" | grep -E '^ml_service_(submissions|queue|busy)' | sed 's/^/    /' || true
    elif [ -n "${SMOKE_REQUIRE_HEALTH:-}" ]; then
        log "FAILED: debug_service does not serve /healthz on :$METRICS_PORT"
        exit 1
    else
        log "WARNING: debug_service does not serve /healthz on :$METRICS_PORT (metrics not wired into the worker yet?); container health: $status"
    fi
}

stop_worker() {
    local t code service=$1
    t=$(date +%s)
    compose stop "$service" >/dev/null 2>&1
    code=$(docker inspect -f '{{.State.ExitCode}}' "$(compose ps -q "$service")")
    log "$service stopped by SIGTERM in $(( $(date +%s) - t )) s with exit code $code"
    compose logs --no-color --tail 3 "$service" | sed 's/^/    /'
    [ "$code" = 0 ] || { log "FAILED: $service did not exit 0 on SIGTERM"; exit 1; }
}

report() {
    local image m images=("$BASE_TAG")
    for m in "${WORKERS[@]}"; do images+=("ml-service-$m:smoke"); done
    images+=(ml-service-sandbox:smoke)
    log "images:"
    for image in "${images[@]}"; do
        printf '    %-28s %s MB\n' "$image" \
            "$(( $(docker image inspect -f '{{.Size}}' "$image") / 1000000 ))"
    done
    log "PASSED: build ${BUILD_S} s, demo ${DEMO_S} s, total $(( $(date +%s) - T0 )) s"
}

main_all() {
    write_secrets_and_override
    build_images
    run_demo
    report
}

# -- teardown -----------------------------------------------------------------------------
cleanup() {
    local rc=$?
    if [ -f "$WORK/compose.override.yml" ] && [ -z "${SMOKE_KEEP:-}" ]; then
        compose down -v --remove-orphans >/dev/null 2>&1 || true
        docker image prune -f --filter label=org.ml-service.project=ml-service >/dev/null 2>&1 || true
    fi
    if [ -n "$STARTED_DOCKERD" ] && [ -z "${SMOKE_KEEP:-}" ]; then
        kill "$STARTED_DOCKERD" 2>/dev/null && wait "$STARTED_DOCKERD" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit $rc
}

check_engine_runs_containers() {
    if ! docker run --rm --network none "$BASE_TAG" python3 -c 'print("ok")' >"$WORK/run-check.log" 2>&1; then
        cat "$WORK/run-check.log" >&2
        loud "the Docker engine started but cannot run a container (storage driver $(docker info -f '{{.Driver}}'))"
        exit 3
    fi
}

main_base() {
    need_root
    install_debian_tools
    start_engine
    ensure_base
    check_engine_runs_containers
}

trap cleanup EXIT
case "${1:-all}" in
    base) main_base ;;
    all) main_base; main_all ;;
    *) sed -n '2,6p' "$0"; exit 2 ;;
esac
