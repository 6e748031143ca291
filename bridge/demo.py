"""`manage.py demo`: the whole product on one machine, with both simulators.

The demo process hosts the Teleport and Mattermost simulators (real servers on
loopback) and runs the real `runwatcher` and the web server as child processes, exactly
as a deployment would, so what you see is the product, not a mock-up.

Nothing it starts outlives it. SIGTERM, SIGHUP and SIGINT stop the children (gracefully,
then forcibly after CHILD_STOP_SECONDS) and then the simulators; a second signal skips the
wait. If the demo is killed outright (SIGKILL), the children get SIGTERM from the kernel
(`proctree.spawn`), and runwatcher's workers follow runwatcher.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.management.base import CommandError

from bridge import proctree
from simulators.mattermost.server import MattermostSimulator
from simulators.teleport.certs import identity_file_text, make_cluster
from simulators.teleport.server import TeleportSimulator

if TYPE_CHECKING:
    from simulators.teleport.proxy import ProxySimulator

ROOT = Path(settings.BASE_DIR)
HOST = "127.0.0.1"
#: Stop signals: SIGTERM (timeout, a supervisor, CI), SIGHUP (a closed terminal), SIGINT.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
#: How long the children get to stop gracefully (runwatcher promises 5 s under load).
CHILD_STOP_SECONDS = 8.0


@dataclass
class Child:
    label: str  # for messages: "runwatcher", "the web server on 127.0.0.1:8000"
    proc: subprocess.Popen
    log: Path


class Demo:
    def __init__(
        self, data_dir: Path, *, web_port: int, via_proxy: bool, say: Callable[[str], None]
    ):
        self.data = data_dir
        self.web_port = web_port
        self.via_proxy = via_proxy
        self.say = say
        self.children: list[Child] = []
        self._teleport: TeleportSimulator | None = None
        self.proxy: ProxySimulator | None = None
        self._mm: MattermostSimulator | None = None
        self.stop = threading.Event()  # set by a stop signal, or when the story is told
        self.force = threading.Event()  # a second signal: do not wait for graceful stops
        self.stopped_by = ""  # the name of the signal that stopped us
        self._seen: dict[str, int] = {}  # post id -> update_at already printed

    @property
    def teleport(self) -> TeleportSimulator:
        if self._teleport is None:
            raise RuntimeError("start_simulators() first")
        return self._teleport

    @property
    def mm(self) -> MattermostSimulator:
        if self._mm is None:
            raise RuntimeError("start_simulators() first")
        return self._mm

    # -- signals --------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """Turn stop signals into `stop` (and a second one into `force`).

        Python's default is to die at once on SIGTERM and SIGHUP, leaving every child
        running. The handler only sets flags, and the main thread notices at its next
        wait and runs shutdown(). It must not raise (as the default SIGINT handler does
        with KeyboardInterrupt): it runs between any two bytecodes of the main thread, so
        an exception could land between starting a child and recording it, and that
        child would never be stopped."""

        def handler(signum: int, _frame: object) -> None:
            if self.stop.is_set():
                self.force.set()
                return
            self.stopped_by = signal.Signals(signum).name
            self.stop.set()

        for signum in STOP_SIGNALS:
            signal.signal(signum, handler)

    # -- set-up ---------------------------------------------------------------------------
    def start_simulators(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        pki = make_cluster("demo.teleport.example.com")
        self._teleport = TeleportSimulator(pki, proxy_public_addr="teleport.example.com:443")
        self._teleport.start()
        write_private(
            self.data / "identity", identity_file_text(pki.issue_client(), pki.cluster_name)
        )
        self.addr = self.teleport.address
        self.env_extra: dict[str, str] = {}
        if self.via_proxy:
            from simulators.teleport.proxy import ProxySimulator

            self.proxy = ProxySimulator(self.teleport.address, pki).start()
            ca = self.proxy.write_public_ca(self.data / "proxy-public-ca.pem")
            self.env_extra["REQUESTS_CA_BUNDLE"] = str(ca)
            self.addr = self.proxy.address
        mm = MattermostSimulator().start()
        self._mm = mm
        mm.add_team("eng", "Engineering")
        self.channels = {
            mm.add_channel("eng", "access-requests", "Access Requests"): "eng/access-requests",
            mm.add_channel("eng", "dba", "DBA"): "eng/dba",
            mm.add_channel("eng", "secret-ops", "Secret Ops", bot_member=False): "eng/secret-ops",
            mm.add_channel("eng", "oncall", "On call"): "eng/oncall",
            mm.add_channel("eng", "security-alerts", "Security alerts"): "eng/security-alerts",
        }
        for name in ("alice", "bob", "carol", "dave"):
            mm.add_user(f"{name}@example.com", name)

    def write_config(self) -> Path:
        """The plugin TOML; it holds the bot token, so only its owner may read it."""
        path = self.data / "teleport-mattermost.toml"
        write_private(
            path,
            "[teleport]\n"
            f'addr = "{self.addr}"\n'
            f'identity = "{self.data / "identity"}"\n\n'
            "[mattermost]\n"
            f'url = "{self.mm.url}"\n'
            f'token = "{self.mm.bot_token}"\n'
            # The bridge's follow-ups (issue 16), with demo-sized durations.
            "notify_requester = true\n"
            "show_reviewers = true\n\n"
            "[reminders]\n"
            'after = "5s"\n'
            "max = 1\n"
            'escalate_to = ["eng/oncall"]\n'
            'escalate_after = "8s"\n\n'
            "[audit]\n"
            'alert_channel = "eng/security-alerts"\n\n'
            "[web]\n"
            f'public_url = "http://{HOST}:{self.web_port}"\n\n'
            "[role_to_recipients]\n"
            '"*" = ["eng/access-requests", "alice@example.com"]\n'
            '"dba" = ["eng/dba", "eng/secret-ops"]\n\n'
            "[log]\n"
            f'output = "{self.data / "runwatcher.log"}"\n'
            'severity = "INFO"\n',
        )
        return path

    def env(self) -> dict[str, str]:
        env = {**os.environ, **self.env_extra, "DEBUG": "1", "ALERT_SCAN_SECONDS": "2"}
        env.setdefault("DATABASE_URL", f"sqlite:///{settings.DATABASES['default']['NAME']}")
        return env

    def spawn(self, *args: str, log: str, label: str) -> subprocess.Popen:
        """Start `manage.py *args` as a child that dies with us (even if we are SIGKILLed).

        Its own session (and so process group) keeps a Ctrl-C in the terminal from
        reaching it directly, so the demo decides the order of the stop, and lets
        shutdown() reach anything it leaves behind with one killpg."""
        path = self.data / log
        with path.open("a") as out:
            proc = proctree.spawn(
                [sys.executable, "manage.py", *args],
                cwd=ROOT,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.children.append(Child(label, proc, path))
        return proc

    def check_children(self) -> None:
        """Raise CommandError (one line) if a child ended while the demo still needs it:
        a web server that lost the race for the port, a runwatcher that could not start."""
        if self.stop.is_set():
            return  # ending is expected now
        for child in self.children:
            code = _exit_status(child.proc)
            if code is not None:
                raise CommandError(
                    f"{child.label} exited with code {code}: {_last_line(child.log)} "
                    f"(see {child.log})"
                )

    def wait_listening(self, port: int, timeout: float = 60) -> None:
        """Wait until the web server accepts connections, so the URL we print works."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            self.check_children()
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.5):
                return
            self.stop.wait(0.1)

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
        # Teleport user names are not emails here: a trait names the Mattermost account,
        # so the requester gets a direct message when the request is resolved.
        for user in ("bob", "dave", "grace"):
            t.set_user(user, mattermost_username=[user])
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
            self.check_children()
            text = "".join(p["message"] for p in self.mm.root_posts())
            if all(i in text for i in ids):
                return
            self.stop.wait(0.2)

    def wait_resolved(self, timeout: float = 120) -> bool:
        """True once the approval, denial and expiry edits are visible in Mattermost, and
        the follow-ups: a reminder, an escalation, a requester DM and a security alert."""
        deadline = time.monotonic() + timeout
        wanted = (
            "✅ APPROVED",
            "❌ DENIED",
            "⌛ EXPIRED",
            "Still waiting for review",
            "Your access request",
            "Access request anomaly",
        )
        while time.monotonic() < deadline and not self.stop.is_set():
            self.check_children()
            text = "".join(p["message"] for p in self.mm.posts())
            oncall = [c for c, name in self.channels.items() if name == "eng/oncall"]
            if all(s in text for s in wanted) and self.mm.root_posts(oncall[0]):
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
            first = next((ln for ln in lines if "**Status**" in ln), lines[0] if lines else "")
            self.say(f"  [mattermost] {kind:5} in {where}: {first.strip()}")

    def shutdown(self) -> None:
        """Stop the children, then the simulators. Never leaves a process behind.

        Each child gets SIGTERM (runwatcher then stops its own workers) and
        CHILD_STOP_SECONDS, or less if a second stop signal arrives; then its whole
        process group gets SIGKILL, which ends a child past its bound and anything it
        left behind. The group is killed *before* the child is reaped: until then its
        PID (which is the group ID) cannot be reused by an unrelated process."""
        self.stop.set()
        procs = [child.proc for child in self.children]
        for proc in procs:
            if _exit_status(proc) is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + CHILD_STOP_SECONDS
        while (
            time.monotonic() < deadline
            and not self.force.is_set()
            and any(_exit_status(p) is None for p in procs)
        ):
            self.force.wait(0.05)
        for proc in procs:
            proctree.signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        for server in (self.proxy, self._teleport, self._mm):
            if server is not None:
                server.stop()


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), like tctl writes identities.

    Written to a private temporary file and renamed over the target: the content is
    never readable by others, not even for a moment, and a file left 0644 by an older
    demo is replaced rather than rewritten in place with its old mode."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def port_taken(port: int) -> bool:
    """Whether something already listens on HOST:port.

    Bound the way runserver binds (SO_REUSEADDR), so the TIME_WAIT connections a
    previous demo leaves behind for a minute do not count as taken."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def _exit_status(proc: subprocess.Popen) -> int | None:
    """The child's exit code (negative: killed by that signal), None while it runs.

    Does not reap the child (WNOWAIT), so its PID stays reserved; see shutdown()."""
    if proc.returncode is not None:
        return proc.returncode
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return proc.wait()  # reaped elsewhere already
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""


def demo_password() -> str:
    return secrets.token_urlsafe(9)
