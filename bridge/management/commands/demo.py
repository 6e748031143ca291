"""python manage.py demo: simulators + runwatcher + web UI on one machine."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from bridge.demo import HOST, Demo, demo_password, free_port, port_taken


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
            "--via-ssh-proxy",
            action="store_true",
            help=(
                "Reach Teleport through a simulated Proxy without TLS routing (separate "
                "listeners): its SSH reverse tunnel, with the identity's SSH certificate"
            ),
        )
        parser.add_argument(
            "--exit-after-seed",
            action="store_true",
            help="Exit once the seeded history is delivered (used by tests and CI)",
        )
        parser.add_argument("--data-dir", default=str(Path(settings.BASE_DIR) / "demo-data"))

    def say(self, text: str) -> None:
        # After SIGHUP the terminal is gone and writing to it fails (EIO); the stop must
        # go on regardless.
        with contextlib.suppress(OSError):
            self.stdout.write(text)

    def handle(self, *args, **opts) -> None:
        port, web = opts["port"], not opts["exit_after_seed"]
        # Before anything starts: a second demo (or anything else) on the port would
        # otherwise only show up as a stack trace in web.log, after a full start-up.
        if web and port_taken(port):
            raise CommandError(
                f"port {port} on {HOST} is already in use (another demo?); stop it or "
                "choose another port with --port"
            )
        data = Path(opts["data_dir"])
        if os.environ.get("DEMO_FRESH_DATABASE") == "1":
            # manage.py chose demo.sqlite3 in the data dir for us: a fresh story each run.
            # Only now, after the port check, so a second demo cannot wipe a running one.
            data.mkdir(parents=True, exist_ok=True)
            for old in data.glob("demo.sqlite3*"):
                old.unlink()
        if not web:
            port = free_port()  # the web server still runs: it takes the button clicks
        demo = Demo(
            data,
            web_port=port,
            via_proxy=opts["via_proxy"],
            via_ssh_proxy=opts["via_ssh_proxy"],
            say=self.say,
        )
        demo.install_signal_handlers()
        try:
            self.run_demo(demo, opts, web)
        finally:
            if demo.stopped_by:
                self.say(f"Got {demo.stopped_by}, stopping…")
            demo.shutdown()
            if demo.stopped_by:
                self.say("Stopped.")

    def run_demo(self, demo: Demo, opts: dict, web: bool) -> None:
        """Start, seed and wait; returns as soon as a stop signal sets `demo.stop`."""
        say = self.say
        call_command("migrate", interactive=False, verbosity=0)
        password = demo_password()
        user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        if demo.stop.is_set():
            return
        demo.start_simulators()
        config = demo.write_config()
        say(f"Teleport simulator: {demo.teleport.address} (cluster {demo.teleport.cluster_name})")
        if demo.tunnel is not None and demo.proxy is not None:
            say(
                f"Teleport Proxy simulator (separate listeners, no TLS routing): web "
                f"{demo.proxy.address}, SSH reverse tunnel {demo.tunnel.address}"
            )
        elif demo.proxy is not None:
            say(f"Teleport Proxy simulator (TLS routing): {demo.proxy.address}")
        say(f"Mattermost simulator: {demo.mm.url}")
        say(f"Config: {config}  (logs: {demo.data / 'runwatcher.log'})")
        if demo.stop.is_set():
            return
        demo.spawn(
            "runwatcher",
            "--config",
            str(config),
            "--audit-interval",
            "2",
            # Any free port (named in runwatcher.log): the demo must not need 8081 free.
            "--status-addr",
            "127.0.0.1:0",
            log="runwatcher.out",
            label="runwatcher",
        )
        demo.spawn(
            "runserver",
            f"{HOST}:{demo.web_port}",
            "--noreload",
            log="web.log",
            label=f"the web server on {HOST}:{demo.web_port}",
        )
        echo = threading.Thread(target=demo.echo_posts, daemon=True)
        echo.start()
        ids = demo.seed()
        if demo.stop.is_set():
            return
        say(self.style.SUCCESS(f"Seeded {len(ids)} access requests; posts arrive below."))
        demo.wait_listening(demo.web_port)
        if demo.stop.is_set():
            return
        # One more request, approved from Mattermost (the Approve button); the seeded
        # pending one stays pending for the follow-ups' reminders.
        chat_id = demo.teleport.create_request(
            user="heidi", roles=["viewer"], reason="Approved with a click in Mattermost"
        )
        approved_in_chat = demo.approve_from_chat(chat_id)
        if not web:
            ok = demo.wait_resolved() and approved_in_chat
            demo.stop.set()
            echo.join(timeout=5)
            demo.echo_once()
            if not ok:
                raise CommandError("the seeded history did not reach Mattermost in time")
            return
        say(
            self.style.SUCCESS(
                f"\nDashboard: http://{HOST}:{demo.web_port}/  login: admin / {password}\n"
                "Press Ctrl-C to stop.\n"
            )
        )
        # Wake up now and then to notice a child that died (the demo would be broken).
        while not demo.stop.wait(1.0):
            demo.check_children()
