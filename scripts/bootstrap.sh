#!/usr/bin/env bash
# Idempotent installer: bash scripts/bootstrap.sh [--dev]
#
#   (no flag)  .venv with requirements.txt (what the product needs to run)
#   --dev      .venv with requirements-dev.txt, plus the Debian packages the test suite
#              needs: postgresql (initdb/pg_ctl for a throwaway cluster), chromium
#              (Playwright browser tests use the system browser, not a downloaded one),
#              systemd (systemd-analyze checks the units in deploy/systemd/) and
#              redis-server (a throwaway server for the Q_BROKER=redis tests).
#
# Safe to run again and again: pip is skipped when a stamp in .venv says the same
# requirements were already installed, and apt only runs for packages that are missing.
# Environment: PYTHON=/path/to/python3.x picks the interpreter used to create .venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DEV=0
for arg in "$@"; do
    case "$arg" in
        --dev) DEV=1 ;;
        -h | --help)
            sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "bootstrap: unknown argument: $arg (usage: bootstrap.sh [--dev])" >&2
            exit 2
            ;;
    esac
done

say() { echo "bootstrap: $*"; }
die() {
    echo "bootstrap: ERROR: $*" >&2
    exit 1
}

# CI has no stdin: make sure nothing ever waits for an answer.
export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive

is_root() { [ "$(id -u)" -eq 0 ]; }

# --- Debian packages (--dev only) -------------------------------------------------------
# Done before the venv so that a missing python3-venv can be installed in the same apt run.
APT_UPDATED=0
apt_install() {
    # Installs the given Debian packages; apt-get update runs at most once per bootstrap.
    if ! command -v apt-get > /dev/null 2>&1; then
        say "apt-get not found: install manually: $*"
        return 1
    fi
    if ! is_root; then
        say "not root: cannot install $*; run: sudo apt-get install -y --no-install-recommends $*"
        return 1
    fi
    # Another apt/dpkg run (unattended-upgrades, a colleague) holds the lock: wait for it
    # instead of failing straight away.
    local apt=(apt-get -q -o DPkg::Lock::Timeout=300)
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        "${apt[@]}" update -qq < /dev/null > /dev/null
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    "${apt[@]}" install -y -qq --no-install-recommends "$@" < /dev/null > /dev/null
}

have_pg_server() {
    command -v initdb > /dev/null 2>&1 && return 0
    compgen -G '/usr/lib/postgresql/*/bin/initdb' > /dev/null
}

if [ "$DEV" -eq 1 ]; then
    missing=()
    have_pg_server || missing+=(postgresql)
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    # systemd-analyze (package systemd) verifies deploy/systemd/ in tests/deploy; it only
    # reads unit files, so it works in a container where systemd is not PID 1.
    command -v systemd-analyze > /dev/null 2>&1 || missing+=(systemd)
    # The Q_BROKER=redis tests start their own throwaway redis-server (never a service).
    command -v redis-server > /dev/null 2>&1 || missing+=(redis-server)
    if [ "${#missing[@]}" -gt 0 ]; then
        # Not fatal: test.sh reports exactly what cannot run without them.
        apt_install "${missing[@]}" || say "WARNING: still missing: ${missing[*]}"
    else
        say "system packages present (postgresql, chromium, systemd, redis-server)"
    fi
fi

# --- Python interpreter and .venv -------------------------------------------------------
PY="${PYTHON:-python3}"
command -v "$PY" > /dev/null 2>&1 || die "$PY not found; install Python >= 3.11"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "$PY is $("$PY" -V 2>&1); Python >= 3.11 is required"

VENV="$ROOT/.venv"
VPY="$VENV/bin/python"
# A venv whose interpreter vanished (pyenv upgrade, copied repo) or is too old is rebuilt.
if [ -e "$VENV" ] && ! "$VPY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2> /dev/null; then
    say "existing .venv is broken or older than Python 3.11: recreating it"
    rm -rf "$VENV"
fi
if [ ! -x "$VPY" ]; then
    say "creating .venv with $("$PY" -V 2>&1)"
    if ! "$PY" -m venv "$VENV" 2> /dev/null; then
        # Debian's python3 ships without ensurepip unless python3-venv is installed.
        rm -rf "$VENV"
        pyver="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        apt_install "python${pyver}-venv" || die "cannot create .venv: install python${pyver}-venv"
        "$PY" -m venv "$VENV"
    fi
fi

# --- requirements (skipped when the stamp matches) -------------------------------------
# The stamp is the hash of the requirement files plus the interpreter version: editing a
# pin, or switching Python, reinstalls. requirements-dev.txt includes requirements.txt,
# so a dev install also satisfies a runtime one.
req_hash() {
    { "$VPY" -V 2>&1; cat "$@"; } | sha256sum | cut -d' ' -f1
}
RUNTIME_HASH="$(req_hash requirements.txt)"
DEV_HASH="$(req_hash requirements.txt requirements-dev.txt)"
stamp_matches() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

if [ "$DEV" -eq 1 ]; then
    REQ=requirements-dev.txt STAMP="$VENV/.bootstrap-dev.stamp" HASH="$DEV_HASH"
    up_to_date() { stamp_matches "$STAMP" "$HASH"; }
else
    REQ=requirements.txt STAMP="$VENV/.bootstrap-runtime.stamp" HASH="$RUNTIME_HASH"
    up_to_date() {
        stamp_matches "$STAMP" "$HASH" || stamp_matches "$VENV/.bootstrap-dev.stamp" "$DEV_HASH"
    }
fi

if up_to_date; then
    say "$REQ already installed (stamp matches), skipping pip"
else
    say "installing $REQ into .venv (quiet)"
    "$VPY" -m pip install -q -r "$REQ"
    # Written only after pip succeeded: an interrupted install is retried next time.
    echo "$HASH" > "$STAMP.tmp" && mv "$STAMP.tmp" "$STAMP"
fi

say "ready: $("$VPY" -V 2>&1) in .venv ($REQ)"
