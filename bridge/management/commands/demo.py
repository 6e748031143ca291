"""python manage.py demo: simulators + runwatcher + web UI on one machine."""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from bridge.demo import Demo, demo_password


class Command(BaseCommand):
    help = "Run the whole bridge locally against built-in Teleport and Mattermost simulators."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="Web UI port (default 8000)")
        parser.add_argument(
            "--via-proxy",
            action="store_true",
            help="Reach Teleport through the simulated Proxy (TLS routing), like Teleport Cloud",
        )
        parser.add_argument(
            "--exit-after-seed",
            action="store_true",
            help="Exit once the seeded history is delivered (used by tests and CI)",
        )
        parser.add_argument("--data-dir", default=str(Path(settings.BASE_DIR) / "demo-data"))

    def handle(self, *args, **opts) -> None:
        say = self.stdout.write
        call_command("migrate", interactive=False, verbosity=0)
        password = demo_password()
        user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()

        demo = Demo(
            Path(opts["data_dir"]), web_port=opts["port"], via_proxy=opts["via_proxy"], say=say
        )
        demo.start_simulators()
        config = demo.write_config()
        say(f"Teleport simulator: {demo.teleport.address} (cluster {demo.teleport.cluster_name})")
        if demo.proxy is not None:
            say(f"Teleport Proxy simulator (TLS routing): {demo.proxy.address}")
        say(f"Mattermost simulator: {demo.mm.url}")
        say(f"Config: {config}  (logs: {demo.data / 'runwatcher.log'})")
        demo.spawn(
            "runwatcher", "--config", str(config), "--audit-interval", "2", log="runwatcher.out"
        )
        if not opts["exit_after_seed"]:
            demo.spawn("runserver", f"127.0.0.1:{opts['port']}", "--noreload", log="web.log")
        echo = threading.Thread(target=demo.echo_posts, daemon=True)
        echo.start()
        try:
            ids = demo.seed()
            say(self.style.SUCCESS(f"Seeded {len(ids)} access requests; posts arrive below."))
            if opts["exit_after_seed"]:
                ok = demo.wait_resolved()
                demo.stop.set()
                echo.join(timeout=5)
                demo.echo_once()
                if not ok:
                    raise CommandError("the seeded history did not reach Mattermost in time")
                return
            say(
                self.style.SUCCESS(
                    f"\nDashboard: http://127.0.0.1:{opts['port']}/  login: admin / {password}\n"
                    "Press Ctrl-C to stop.\n"
                )
            )
            demo.stop.wait()
        except KeyboardInterrupt:
            say("Stopping…")
        finally:
            demo.shutdown()
