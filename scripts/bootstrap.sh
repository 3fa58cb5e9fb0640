#!/usr/bin/env bash
# Everything Quorum needs on a fresh Debian/Ubuntu clone; safe to run again (each step skips
# itself when already done). Prints one line per step; output of the tools only on failure.
#
#   scripts/bootstrap.sh          # or: make bootstrap
#
# Steps: apt packages (redis-server, Java 17, Maven) -> .venv with `pip install -e '.[dev]'`
# -> Kafka jars from Maven Central into infra/kafka/target/lib.
# PYTHON=/path/to/python3.11 picks the venv's interpreter (default: see "Python virtualenv").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
PIP_STAMP="$VENV/.quorum-pyproject.sha256"

step() { printf '==> %s\n' "$*"; }

# Run quietly, but show the output if the command fails: a silent failure is worse than noise.
quiet() {
    local log
    log="$(mktemp)"
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        printf 'bootstrap: failed: %s\n' "$*" >&2
        exit 1
    fi
    rm -f "$log"
}

# --- System packages -------------------------------------------------------------------------
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
fi
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v java >/dev/null 2>&1 || [ -x "${JAVA_HOME:-/nonexistent}/bin/java" ] \
    || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
if [ "${#missing[@]}" -gt 0 ]; then
    step "apt: installing ${missing[*]}"
    quiet "${sudo_cmd[@]}" apt-get update
    quiet "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
else
    step "apt: redis-server, java and mvn already installed"
fi

# --- Python virtualenv -----------------------------------------------------------------------
# Which interpreter: $PYTHON if set; else the distribution's /usr/bin/python3 when it is 3.11+
# and can make a venv (ensurepip) with the headers mypyc compiles against; else python3 on the
# PATH. Debian and Ubuntu build their Python with profile-guided and link-time optimization;
# a source build without --enable-optimizations (pyenv's default) ran plain Python code 1.5
# times slower on the development machine, and the worker 10-17% slower (bench/README.md,
# session 25).
usable_for_venv() {
    [ -x "$1" ] && "$1" - <<'PY' >/dev/null 2>&1
import os, sys, sysconfig
import ensurepip  # Debian leaves it out unless python3-venv is installed
headers = os.path.join(sysconfig.get_paths()["include"], "Python.h")
sys.exit(0 if sys.version_info >= (3, 11) and os.path.exists(headers) else 1)
PY
}
if [ -z "${PYTHON:-}" ]; then
    PYTHON=python3
    if usable_for_venv /usr/bin/python3; then
        PYTHON=/usr/bin/python3
    fi
fi
if [ ! -x "$VENV/bin/python" ]; then
    step "venv: creating $VENV with $("$PYTHON" --version 2>&1) ($(command -v "$PYTHON"))"
    quiet "$PYTHON" -m venv "$VENV"
else
    # An existing venv keeps its interpreter: `rm -rf .venv` and bootstrap again to change it.
    step "venv: $VENV exists ($("$VENV/bin/python" -c 'import os, sys; print(sys.version.split()[0], os.path.realpath(sys.executable))'))"
fi

# Reinstall only when pyproject.toml changed since the last successful install.
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
have="$(cat "$PIP_STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    step "pip: installing -e '.[dev]'"
    quiet "$VENV/bin/python" -m pip install -e '.[dev]'
    printf '%s\n' "$want" >"$PIP_STAMP"
else
    step "pip: up to date with pyproject.toml"
fi

# --- The compiled hot path ---------------------------------------------------------------------
# mypyc compiles the annotations agent's pure modules (streams/native.py) when a source changed
# since the last build. Without a compiler the same code runs as Python: say so, go on.
step "native: compiling the hot path with mypyc when its sources changed"
if ! "$VENV/bin/python" -m streams.native build --if-stale; then
    step "native: NOT compiled; the worker runs the hot path as Python (about 10% slower)"
fi

# --- Kafka jars ------------------------------------------------------------------------------
# streams.infra keeps a hash of the pom next to the jars and re-resolves when it changes.
step "kafka: jars in infra/kafka/target/lib (Maven resolves them on first run)"
quiet "$VENV/bin/python" -m streams.infra jars

step "bootstrap: done (next: make up)"
