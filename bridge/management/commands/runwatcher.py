"""python manage.py runwatcher --config teleport-mattermost.toml"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bridge.logsetup import configure_logging
from bridge.service import Options, Service, StartupError
from teleportbridge.config import ConfigError, load_config, parse_fail_fast
from teleportbridge.teleport.errors import TeleportError


class Command(BaseCommand):
    help = "Watch Teleport access requests and notify Mattermost (the plugin's `start`)."

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
            "--audit-interval",
            type=float,
            default=30.0,
            help="Seconds between audit log polls (0 disables the poller)",
        )

    def handle(self, *args, **opts) -> None:
        path = opts["config"] or settings.TELEPORT_MATTERMOST_CONFIG
        try:
            fail_fast = parse_fail_fast(settings.TELEPORT_PLUGIN_FAIL_FAST)
            cfg = load_config(path)
            configure_logging(cfg.log, debug=opts["debug"])
            for warning in cfg.warnings:
                self.stderr.write(f"warning: {warning}")
            service = Service(
                cfg,
                Options(
                    config_path=str(path),
                    workers=not opts["no_workers"],
                    audit_interval=opts["audit_interval"],
                    fail_fast=fail_fast,
                ),
            )
            service.run()
        except (ConfigError, StartupError, TeleportError) as exc:
            raise CommandError(str(exc)) from None
