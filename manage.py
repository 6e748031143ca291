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
        # The demo tells a fresh story each run in its own SQLite file; it never touches
        # the database a deployment configured.
        from pathlib import Path

        data = Path(__file__).resolve().parent / "demo-data"
        data.mkdir(exist_ok=True)
        for old in data.glob("demo.sqlite3*"):
            old.unlink()
        os.environ["DATABASE_URL"] = f"sqlite:///{data / 'demo.sqlite3'}"
    if argv[1:2] == ["version"]:
        # Django answers `version` itself (its own version); ours names the product.
        argv[1] = "bridgeversion"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
