"""python manage.py runwatcher --config teleport-mattermost.toml

Any start-up problem (settings, environment, TOML, credentials, database, Teleport,
Mattermost) ends the command with exit code 1 and one line naming the setting and the
problem (plus, for some, a hint line); nothing has been started by then.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bridge.logsetup import configure_logging
from bridge.migrating import MigrationError, apply_migrations
from bridge.service import Options, Service
from bridge.startup import (
    StartupError,
    check_broker,
    check_database,
    one_line,
    run_system_checks,
    secrets_in_use,
    server_settings_problem,
)
from bridge.status import DEFAULT_ADDR as DEFAULT_STATUS_ADDR
from bridge.status import parse_addr
from common.request_log import escape_controls
from teleportbridge.config import ConfigError, load_config, parse_fail_fast
from teleportbridge.teleport.errors import TeleportError

EXPECTED = (ConfigError, StartupError, TeleportError, MigrationError)


class Command(BaseCommand):
    help = "Watch Teleport access requests and notify Mattermost (the plugin's `start`)."
    # Run by handle() instead, after the TOML: a problem is one line, not Django's report.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "-c",
            "--config",
            default=None,
            help="Plugin TOML (default: $TELEPORT_MATTERMOST_CONFIG or "
            "/etc/teleport-mattermost.toml)",
        )
        parser.add_argument("-d", "--debug", action="store_true", help="Force debug logging")
        parser.add_argument(
            "--no-workers",
            action="store_true",
            help="Do not run django-q2 workers in-process (scale `manage.py qcluster` instead)",
        )
        parser.add_argument(
            "--migrate",
            action="store_true",
            help="Apply pending database migrations first, under a lock "
            "(`teleport-mattermost start` does unless --no-migrate)",
        )
        parser.add_argument(
            "--audit-interval",
            type=float,
            default=30.0,
            help="Seconds between audit log polls (0 disables the poller)",
        )
        parser.add_argument(
            "--audit-denied-interval",
            type=float,
            default=3600.0,
            help="Seconds between audit log polls while the role lacks event [list, read]",
        )
        parser.add_argument(
            "--status-addr",
            default=DEFAULT_STATUS_ADDR,
            help="HOST:PORT serving /healthz, /readyz and /metrics "
            f'(default {DEFAULT_STATUS_ADDR}; "" turns it off)',
        )

    def handle(self, *args, **opts) -> None:
        self.secrets: list[str] = []  # what must never be printed, once known
        try:
            service = self._prepare(opts)
            service.run()
            if service.failure:
                raise CommandError(service.failure)
        except EXPECTED as exc:
            message = one_line(str(exc), secrets_in_use(self.secrets), getattr(exc, "hint", ""))
            raise CommandError(message) from None

    def _prepare(self, opts) -> Service:
        """Everything that can be checked without the network, in the order a person
        fixes things: settings, environment, TOML, credential files, the database."""
        try:
            problem = server_settings_problem()
            if problem is not None:
                raise problem
            fail_fast = parse_fail_fast(settings.TELEPORT_PLUGIN_FAIL_FAST)
            if opts["status_addr"]:
                parse_addr(opts["status_addr"])  # a typo is found before the TOML is read
            path = opts["config"] or settings.TELEPORT_MATTERMOST_CONFIG
            cfg = load_config(path)
            self.secrets.append(cfg.mattermost.token)
            configure_logging(cfg.log, debug=opts["debug"])
            for warning in cfg.warnings:
                self.stderr.write(f"warning: {escape_controls(warning)}")
            run_system_checks()
            service = Service(  # reads the identity file or TLS triple
                cfg,
                Options(
                    config_path=str(path),
                    workers=not opts["no_workers"],
                    audit_interval=opts["audit_interval"],
                    fail_fast=fail_fast,
                    status_addr=opts["status_addr"],
                    audit_denied_interval=opts["audit_denied_interval"],
                    debug=opts["debug"],
                ),
            )
            if opts.get("migrate"):
                apply_migrations()
            check_database()
            check_broker()
        except EXPECTED:
            raise
        except Exception as exc:
            # A bug or a case nobody foresaw: still one line; --traceback shows the rest.
            message = one_line(
                f"start-up failed: {type(exc).__name__}: {exc}",
                secrets_in_use(self.secrets),
                "hint: run again with --traceback for the details",
            )
            raise CommandError(message) from exc
        return service
