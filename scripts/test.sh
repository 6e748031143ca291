#!/usr/bin/env bash
# The one test command: bash scripts/test.sh [extra pytest args, e.g. -k config]
#
# Steps (all run, even after a failure, so one run shows everything; summary at the end):
#   bootstrap   scripts/bootstrap.sh --dev (venv, pinned deps, postgresql + chromium)
#   lint        ruff check .
#   format      ruff format --check .
#   types       mypy (product packages and simulators, django-stubs; config in pyproject)
#   migrations  manage.py makemigrations --check --dry-run (no model change lacks one)
#   deploy      manage.py check --deploy --fail-level WARNING with production-like env:
#               DEBUG=0, a random 50+ char SECRET_KEY, ALLOWED_HOSTS=example.com
#   postgres    pytest on PostgreSQL: $DATABASE_URL if it is a postgres URL, otherwise a
#               throwaway cluster (scripts/pg_throwaway.py), stopped on exit
#   sqlite      pytest on SQLite
#
# Knobs (environment):
#   PYTEST_WORKERS=2   pytest-xdist workers; 0 runs the suite without xdist
#   TEST_DBS="postgres sqlite"   which database runs to do
#   FAIL_FAST=1        stop at the first failing step
#   SKIP_BOOTSTRAP=1   don't run bootstrap (offline re-runs)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTEST_WORKERS="${PYTEST_WORKERS:-2}"
TEST_DBS="${TEST_DBS:-postgres sqlite}"
FAIL_FAST="${FAIL_FAST:-0}"

STARTED=$SECONDS
declare -a SUMMARY=()
FAILED=0

banner() { printf '\n==> %s\n' "$*"; }

# record NAME STATUS [DETAIL]: one summary line per step; any non-"passed" fails the run.
record() {
    local name="$1" status="$2" detail="${3:-}"
    SUMMARY+=("$(printf '%-11s %s%s' "$name:" "$status" "${detail:+ ($detail)}")")
    if [ "$status" != passed ]; then
        FAILED=1
        if [ "$FAIL_FAST" = 1 ]; then
            echo "FAIL_FAST=1: stopping after $name" >&2
            exit 1 # the EXIT trap prints the summary
        fi
    fi
}

# step NAME CMD...: run a command, record whether it passed and how long it took.
step() {
    local name="$1" t0=$SECONDS rc=0
    shift
    banner "$name: $*"
    "$@" || rc=$?
    if [ "$rc" -eq 0 ]; then
        record "$name" passed "$((SECONDS - t0))s"
    else
        record "$name" FAILED "exit $rc, $((SECONDS - t0))s"
    fi
}

# --- cleanup and summary, whatever way we exit --------------------------------------------
PG_STATE=""
cleanup() {
    local rc=$?
    if [ -n "$PG_STATE" ]; then
        "$ROOT/.venv/bin/python" scripts/pg_throwaway.py stop --state "$PG_STATE" || true
        rm -f "$PG_STATE"
    fi
    banner "summary ($((SECONDS - STARTED))s)"
    local line
    for line in "${SUMMARY[@]}"; do echo "  $line"; done
    if [ "$FAILED" -ne 0 ] || [ "$rc" -ne 0 ]; then
        echo "RESULT: FAILED"
        [ "$rc" -ne 0 ] || rc=1
    else
        echo "RESULT: all passed"
    fi
    exit "$rc"
}
trap cleanup EXIT
# Turn Ctrl-C / kill into a normal exit so the EXIT trap stops the throwaway cluster.
trap 'exit 130' INT
trap 'exit 143' TERM

# --- bootstrap ----------------------------------------------------------------------------
if [ "${SKIP_BOOTSTRAP:-0}" = 1 ]; then
    record bootstrap passed "skipped: SKIP_BOOTSTRAP=1"
else
    step bootstrap bash scripts/bootstrap.sh --dev
fi
if [ ! -x .venv/bin/python ]; then
    echo "no .venv: cannot continue (see the bootstrap output above)" >&2
    exit 1
fi
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
export PYTHONDONTWRITEBYTECODE=1
# The browser tests drive the Debian chromium, not a Playwright-downloaded one.
export PLAYWRIGHT_CHROMIUM_EXECUTABLE="${PLAYWRIGHT_CHROMIUM_EXECUTABLE:-/usr/bin/chromium}"
[ -x "$PLAYWRIGHT_CHROMIUM_EXECUTABLE" ] ||
    echo "WARNING: $PLAYWRIGHT_CHROMIUM_EXECUTABLE not found: browser tests will fail" >&2

# --- static checks ------------------------------------------------------------------------
step lint ruff check .
step format ruff format --check .
# In-memory database: the django-stubs plugin loads the settings, nothing is touched.
step types env DATABASE_URL="sqlite://:memory:" mypy
# An in-memory database: these checks must neither need a server nor touch db.sqlite3
# (settings also read an optional .env, which an explicit variable overrides).
step migrations env DATABASE_URL="sqlite://:memory:" \
    python manage.py makemigrations --check --dry-run
# Production-like settings; the SECRET_KEY is random so check --deploy judges a real one
# (set inside the function so it is not echoed in the step banner).
deploy_check() {
    DATABASE_URL="sqlite://:memory:" DEBUG=0 ALLOWED_HOSTS=example.com \
        SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
        python manage.py check --deploy --fail-level WARNING
}
step deploy deploy_check

# --- pytest, once per database -------------------------------------------------------------
PYTEST_ARGS=(-p no:cacheprovider)
if [ "$PYTEST_WORKERS" != 0 ] && python -c 'import xdist' 2> /dev/null; then
    # Safe: each worker gets its own test database (pytest-django suffixes it with the
    # worker id) and the suite's servers bind ephemeral ports.
    PYTEST_ARGS+=(-n "$PYTEST_WORKERS")
fi

# run_pytest NAME DATABASE_URL [pytest args]
run_pytest() {
    local name="$1" url="$2" t0=$SECONDS rc=0
    shift 2
    banner "$name: pytest ${PYTEST_ARGS[*]} $* (DATABASE_URL=$url)"
    DATABASE_URL="$url" python -m pytest "${PYTEST_ARGS[@]}" "$@" || rc=$?
    case "$rc" in
        0) record "$name" passed "$((SECONDS - t0))s" ;;
        5) record "$name" "FAILED: no tests collected" "pytest exit 5" ;;
        *) record "$name" FAILED "pytest exit $rc, $((SECONDS - t0))s" ;;
    esac
}

for db in $TEST_DBS; do
    case "$db" in
        postgres)
            if [[ "${DATABASE_URL:-}" =~ ^(postgres|postgresql|pgsql|postgis):// ]]; then
                run_pytest postgres "$DATABASE_URL" "$@"
                continue
            fi
            [ -z "${DATABASE_URL:-}" ] ||
                echo "DATABASE_URL is not a PostgreSQL URL: using a throwaway cluster" >&2
            banner "postgres: starting a throwaway cluster"
            PG_STATE="$(mktemp "${TMPDIR:-/tmp}/pg-throwaway-state.XXXXXX")"
            if pg_url="$(python scripts/pg_throwaway.py start --state "$PG_STATE")"; then
                run_pytest postgres "$pg_url" "$@"
                python scripts/pg_throwaway.py stop --state "$PG_STATE" || true
                rm -f "$PG_STATE"
                PG_STATE=""
            else
                record postgres "FAILED: could not start PostgreSQL" \
                    "set DATABASE_URL or run bootstrap.sh --dev"
            fi
            ;;
        sqlite)
            # Explicit URL rather than unset: an optional .env must not switch it back.
            run_pytest sqlite "sqlite:///$ROOT/db.sqlite3" "$@"
            ;;
        *)
            record "$db" "FAILED: unknown entry in TEST_DBS (use postgres, sqlite)"
            ;;
    esac
done
# The EXIT trap prints the summary and sets the exit status.
