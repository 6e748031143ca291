#!/usr/bin/env python
"""Django's command-line utility for teleport-mattermost-bridge."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bridge.settings")
    # grpcio's own C-core logging would print handshake noise while we probe whether the
    # address is an Auth Service or a Proxy; our log lines say what happened.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    if argv[1:2] == ["demo"] and not os.environ.get("DATABASE_URL"):
        # The demo tells a fresh story each run in its own SQLite file in its data dir; it
        # never touches the database a deployment configured. The demo command empties it
        # (DEMO_FRESH_DATABASE), but only after checking that no other demo is running:
        # deleting it here wiped a running demo's database when a second one was started.
        from pathlib import Path

        data = Path(__file__).resolve().parent / "demo-data"
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


if __name__ == "__main__":
    main()
