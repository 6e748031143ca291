"""`manage.py demo`: the whole product on one machine, with both simulators.

The demo process hosts the Teleport and Mattermost simulators (real servers on
loopback) and runs the real `runwatcher` and the web server as child processes, exactly
as a deployment would, so what you see is the product, not a mock-up.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from simulators.mattermost.server import MattermostSimulator
from simulators.teleport.certs import make_cluster, write_identity_file
from simulators.teleport.server import TeleportSimulator

if TYPE_CHECKING:
    from simulators.teleport.proxy import ProxySimulator

ROOT = Path(settings.BASE_DIR)


class Demo:
    def __init__(
        self, data_dir: Path, *, web_port: int, via_proxy: bool, say: Callable[[str], None]
    ):
        self.data = data_dir
        self.web_port = web_port
        self.via_proxy = via_proxy
        self.say = say
        self.children: list[subprocess.Popen] = []
        self.proxy: ProxySimulator | None = None
        self.stop = threading.Event()
        self._seen: dict[str, int] = {}  # post id -> update_at already printed

    # -- set-up ---------------------------------------------------------------------------
    def start_simulators(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        pki = make_cluster("demo.teleport.example.com")
        self.teleport = TeleportSimulator(pki, proxy_public_addr="teleport.example.com:443").start()
        write_identity_file(self.data / "identity", pki.issue_client(), pki.cluster_name)
        self.addr = self.teleport.address
        self.env_extra: dict[str, str] = {}
        if self.via_proxy:
            from simulators.teleport.proxy import ProxySimulator

            self.proxy = ProxySimulator(self.teleport.address, pki).start()
            ca = self.proxy.write_public_ca(self.data / "proxy-public-ca.pem")
            self.env_extra["REQUESTS_CA_BUNDLE"] = str(ca)
            self.addr = self.proxy.address
        mm = MattermostSimulator().start()
        self.mm = mm
        mm.add_team("eng", "Engineering")
        self.channels = {
            mm.add_channel("eng", "access-requests", "Access Requests"): "eng/access-requests",
            mm.add_channel("eng", "dba", "DBA"): "eng/dba",
            mm.add_channel("eng", "secret-ops", "Secret Ops", bot_member=False): "eng/secret-ops",
        }
        for name in ("alice", "bob", "carol", "dave"):
            mm.add_user(f"{name}@example.com", name)

    def write_config(self) -> Path:
        path = self.data / "teleport-mattermost.toml"
        path.write_text(
            "[teleport]\n"
            f'addr = "{self.addr}"\n'
            f'identity = "{self.data / "identity"}"\n\n'
            "[mattermost]\n"
            f'url = "{self.mm.url}"\n'
            f'token = "{self.mm.bot_token}"\n\n'
            "[role_to_recipients]\n"
            '"*" = ["eng/access-requests", "alice@example.com"]\n'
            '"dba" = ["eng/dba", "eng/secret-ops"]\n\n'
            "[log]\n"
            f'output = "{self.data / "runwatcher.log"}"\n'
            'severity = "INFO"\n'
        )
        return path

    def env(self) -> dict[str, str]:
        env = {**os.environ, **self.env_extra, "DEBUG": "1"}
        env.setdefault("DATABASE_URL", f"sqlite:///{settings.DATABASES['default']['NAME']}")
        return env

    def spawn(self, *args: str, log: str) -> subprocess.Popen:
        out = (self.data / log).open("a")
        proc = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.children.append(proc)
        return proc

    # -- story ----------------------------------------------------------------------------
    def seed(self) -> list[str]:
        """A realistic history: approved, denied, expired, a failed delivery, an anomaly."""
        t = self.teleport
        ids = []
        # Roles with logins, so the timeline shows what approving would grant.
        for role, logins in {
            "editor": ["ubuntu"],
            "auditor": [],
            "viewer": [],
            "dba": ["postgres", "root"],
        }.items():
            t.set_role(role, logins)
        approved = t.create_request(
            user="bob",
            roles=["editor"],
            reason="Deploy hotfix for INC-2231",
            suggested_reviewers=["carol@example.com"],
        )
        ids.append(approved)
        denied = t.create_request(user="dave", roles=["editor", "auditor"], reason="curious")
        ids.append(denied)
        expiring = t.create_request(user="erin", roles=["viewer"], reason="look at dashboards")
        ids.append(expiring)
        dba = t.create_request(user="frank", roles=["dba"], reason="Run migration 0042 on prod")
        ids.append(dba)  # eng/secret-ops refuses the bot: a failed delivery
        pending = t.create_request(user="grace", roles=["editor"], reason="On-call handover")
        ids.append(pending)
        self.wait_posted(ids)
        t.review(approved, "carol", "APPROVED", reason="matches INC-2231")
        t.review(denied, "carol", "DENIED", reason="no ticket")
        t.delete(expiring)
        # An audit record of a review for a request this bridge never saw: an anomaly.
        t.emit_audit_event(
            "access_request.review",
            "5b0c0f1e-0000-4000-8000-00000000dead",
            reviewer="mallory",
            proposed_state="APPROVED",
            reason="self-approved",
        )
        return ids

    def wait_posted(self, ids: list[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            text = "".join(p["message"] for p in self.mm.root_posts())
            if all(i in text for i in ids):
                return
            self.stop.wait(0.2)

    def wait_resolved(self, timeout: float = 60) -> bool:
        """True once the approval, denial and expiry edits are visible in Mattermost."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = "".join(p["message"] for p in self.mm.root_posts())
            if all(s in text for s in ("✅ APPROVED", "❌ DENIED", "⌛ EXPIRED")):
                return True
            self.stop.wait(0.2)
        return False

    def echo_posts(self) -> None:
        """Print every new Mattermost post, so the terminal shows the product working."""
        while not self.stop.is_set():
            self.echo_once()
            self.stop.wait(0.5)

    def echo_once(self) -> None:
        for post in self.mm.posts():
            stamp = post.get("update_at", 0)
            if self._seen.get(post["id"]) == stamp:
                continue
            kind = "reply" if post["root_id"] else ("edit" if post["id"] in self._seen else "post")
            self._seen[post["id"]] = stamp
            where = self.channels.get(post["channel_id"], "direct message")
            lines = post["message"].splitlines()
            first = next((ln for ln in lines if "Status" in ln or "reviewed" in ln), "")
            self.say(f"  [mattermost] {kind:5} in {where}: {first.strip()}")

    def shutdown(self) -> None:
        self.stop.set()
        for proc in self.children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.children:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for server in (self.proxy, self.teleport, self.mm):
            if server is not None:
                server.stop()


def demo_password() -> str:
    return secrets.token_urlsafe(9)
