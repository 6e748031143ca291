"""`teleport-mattermost`: the Go plugin's command line, so switching is a one-line change.

    teleport-mattermost start [-c|--config FILE] [-d|--debug] [--no-migrate] ...
    teleport-mattermost configure          # prints the sample TOML
    teleport-mattermost version
    teleport-mattermost web [--bind ADDR]  # the dashboard and admin (gunicorn)
    teleport-mattermost manage ARGS...     # any Django management command

`start` is `manage.py runwatcher --migrate`: a machine that only has the TOML runs it with
no other step. The schema is brought up to date under a lock (bridge/migrating.py), the
embedded SQLite lives in the data directory (bridge/datadir.py) and, without SECRET_KEY,
a key generated once into that directory signs django-q2's tasks (the watcher serves no
web page, so no secret of the operator's is needed). `web` signs login sessions: it
requires a key the operator chose.

Bad input (an unknown flag, a missing argument) is one line and exit code 1, as the Go
plugin's kingpin does, not argparse's usage block and code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

PROG = "teleport-mattermost"
DEFAULT_CONFIG = "/etc/teleport-mattermost.toml"
DEFAULT_BIND = "127.0.0.1:8000"
# Commands that run the django-q2 workers: without SECRET_KEY they share the data
# directory's generated key, so tasks queued by one are readable by the others.
WORKER_COMMANDS = frozenset({"runwatcher", "qcluster"})


def fail(message: str) -> NoReturn:
    """One escaped line on stderr and exit code 1."""
    from common.request_log import escape_controls

    sys.stderr.write(f"{PROG}: error: {escape_controls(message)}\n")
    sys.exit(1)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(f"{message}, try --help")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Teleport access requests to Mattermost (drop-in for the Go plugin).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    start = sub.add_parser("start", help="Start watching Teleport and notifying Mattermost")
    start.add_argument(
        "-c",
        "--config",
        default=None,
        help=f"TOML config file (default: $TELEPORT_MATTERMOST_CONFIG or {DEFAULT_CONFIG})",
    )
    start.add_argument("-d", "--debug", action="store_true", help="Enable verbose logging")
    start.add_argument(
        "--no-migrate", action="store_true", help="Do not apply pending database migrations"
    )
    start.add_argument(
        "--no-workers",
        action="store_true",
        help="Run no django-q2 workers here (scale with `manage qcluster`)",
    )
    start.add_argument(
        "--audit-interval", default=None, help="Seconds between audit log polls (0: off)"
    )
    start.add_argument(
        "--status-addr",
        default=None,
        help='Address of the /healthz, /readyz and /metrics listener ("" turns it off)',
    )
    start.add_argument(
        "--audit-denied-interval",
        default=None,
        help="Seconds between audit polls while the role lacks event read (default 3600)",
    )

    sub.add_parser("configure", help="Print a sample TOML configuration")
    sub.add_parser("version", help="Print the version")

    web = sub.add_parser("web", help="Serve the dashboard and admin with gunicorn")
    web.add_argument("--bind", default=DEFAULT_BIND, help=f"Address (default {DEFAULT_BIND})")
    web.add_argument("--workers", default="2", help="gunicorn worker processes (default 2)")
    web.add_argument(
        "--no-migrate", action="store_true", help="Do not apply pending database migrations"
    )

    manage = sub.add_parser(
        "manage", help="Run a Django management command (createsuperuser, migrate, ...)"
    )
    manage.add_argument("args", nargs=argparse.REMAINDER, help="The command and its arguments")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    _environment()
    if args.command == "start":
        _use_generated_key_if_unset()
        command = ["runwatcher", "--config", args.config or _default_config()]
        if args.debug:
            command.append("--debug")
        if not args.no_migrate:
            command.append("--migrate")
        if args.no_workers:
            command.append("--no-workers")
        if args.audit_interval is not None:
            command += ["--audit-interval", args.audit_interval]
        if args.status_addr is not None:
            command.append(f"--status-addr={args.status_addr}")
        if args.audit_denied_interval is not None:
            command += ["--audit-denied-interval", args.audit_denied_interval]
        manage([f"{PROG} start", *command])
    elif args.command == "configure":
        from teleportbridge.config import SAMPLE_CONFIG

        sys.stdout.write(SAMPLE_CONFIG)
    elif args.command == "version":
        import platform

        from bridge.version_info import VERSION

        python = platform.python_version()
        sys.stdout.write(f"teleport-mattermost-bridge v{VERSION} python{python}\n")
    elif args.command == "web":
        web(bind=args.bind, workers=args.workers, migrate=not args.no_migrate)
    else:
        if args.args[:1] and args.args[0] in WORKER_COMMANDS:
            _use_generated_key_if_unset()
        manage([f"{PROG} manage", *args.args])


def _environment() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bridge.settings")
    # grpcio's own C-core logging would print handshake noise while we probe whether the
    # address is an Auth Service or a Proxy; our log lines say what happened.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


def _default_config() -> str:
    return os.environ.get("TELEPORT_MATTERMOST_CONFIG", "").strip() or DEFAULT_CONFIG


def _use_generated_key_if_unset() -> None:
    """No SECRET_KEY: the data directory's key (created once, 0600); see
    bridge.datadir.generated_secret_key for why not a per-process random one."""
    if os.environ.get("SECRET_KEY", "").strip() or os.environ.get("SECRET_KEY_FILE", "").strip():
        return
    from bridge.datadir import DataDirError, generated_secret_key

    try:
        os.environ["SECRET_KEY_FILE"] = str(generated_secret_key())
    except DataDirError as exc:
        fail(str(exc))


def web(*, bind: str, workers: str, migrate: bool) -> NoReturn:
    """Check, migrate, then become gunicorn (exec: signals reach it directly)."""
    settings = load_settings()
    if not settings.SECRET_KEY_CONFIGURED and not settings.DEBUG:
        from bridge.datadir import SECRET_KEY_NAME, data_dir

        fail(
            "web needs SECRET_KEY or SECRET_KEY_FILE (it signs login sessions); to share "
            f"start's key: SECRET_KEY_FILE={data_dir() / SECRET_KEY_NAME}"
        )
    if migrate:
        import django

        django.setup()
        from bridge.migrating import MigrationError, apply_migrations

        try:
            apply_migrations()
        except MigrationError as exc:
            fail(str(exc))
    from django.db import connections

    connections.close_all()
    argv = [sys.executable, "-m", "gunicorn", "bridge.wsgi:application"]
    argv += ["--bind", bind, "--workers", workers, "--access-logfile", "-"]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)  # noqa: S606 (our own interpreter, fixed arguments)


def load_settings():
    """The settings, or one line and exit code 1 for a bad environment variable."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 (the access imports the settings module)
    except ImproperlyConfigured as exc:
        fail(str(exc))
    return settings


def manage(argv: list[str]) -> None:
    """Django's command line (what manage.py runs); argv[0] is the program name."""
    _environment()
    from django.core.management import execute_from_command_line

    argv = list(argv)
    if argv[1:2] == ["demo"] and not os.environ.get("DATABASE_URL"):
        # The demo tells a fresh story each run in its own SQLite file in its data dir; it
        # never touches the database a deployment configured. The demo command empties it
        # (DEMO_FRESH_DATABASE), but only after checking that no other demo is running:
        # deleting it here wiped a running demo's database when a second one was started.
        data = Path(__file__).resolve().parent.parent / "demo-data"
        for i, arg in enumerate(argv):
            if arg == "--data-dir" and i + 1 < len(argv):
                data = Path(argv[i + 1])
            elif arg.startswith("--data-dir="):
                data = Path(arg.split("=", 1)[1])
        os.environ["DATABASE_URL"] = f"sqlite:///{data.resolve() / 'demo.sqlite3'}"
        os.environ["DEMO_FRESH_DATABASE"] = "1"
    if argv[1:2] == ["version"]:
        # Django answers `version` itself (its own version); ours names the product.
        argv[1] = "bridgeversion"
    _settings_or_exit(argv[1] if len(argv) > 1 else "")
    execute_from_command_line(argv)


def _settings_or_exit(command: str) -> None:
    """Load the settings now: a bad environment variable is one line and exit code 1
    (Django would print a traceback), as is a server started without what it needs."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from common.request_log import escape_controls

    try:
        settings.INSTALLED_APPS  # noqa: B018 (the access imports the settings module)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"CommandError: {escape_controls(str(exc))}\n")
        sys.exit(1)
    if command in {"qcluster", "runserver"}:  # runwatcher checks this itself
        from bridge.startup import server_settings_problem

        problem = server_settings_problem()
        if problem is not None:
            sys.stderr.write(f"CommandError: {problem}\n{problem.hint}\n")
            sys.exit(1)
