"""Shared fixtures: the two simulators as real servers, credentials, the plugin TOML.

Area-specific fixtures live in tests/<area>/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.mattermost.server import MattermostSimulator
from simulators.teleport.certs import make_cluster, write_identity_file
from simulators.teleport.server import TeleportSimulator
from tests.web import PLAIN_HTTP


@pytest.fixture(autouse=True)
def _plain_http(settings):
    """Admin and dashboard pages over the test client's plain HTTP (see tests/web.py)."""
    for key, value in PLAIN_HTTP.items():
        setattr(settings, key, value)


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Each test starts with empty in-process TTL caches (common.ttl_cache): the database
    is rolled back between tests, the cached rows would outlive it."""
    from common.ttl_cache import clear_all

    clear_all()
    yield
    clear_all()


@pytest.fixture(scope="session")
def pki():
    """One cluster PKI for the session: key generation is the slow part."""
    return make_cluster("sim.example.com")


@pytest.fixture(scope="session")
def redis_url():
    """A Redis for the Q_BROKER=redis tests (tests/redis_server.py): REDIS_URL, else a
    throwaway redis-server, started only when a test asks for it."""
    from tests.redis_server import redis_server

    with redis_server() as url:
        if url is None:
            pytest.skip(
                "no redis-server binary and REDIS_URL is not set "
                "(scripts/bootstrap.sh --dev installs redis-server)"
            )
        yield url


@pytest.fixture
def redis_queue(settings, redis_url, monkeypatch):
    """This process configured as bridge/settings.py does for Q_BROKER=redis, on a queue
    of its own. django-q2 reads Q_CLUSTER once, into Conf, at import: Conf is set too."""
    from django_q.conf import Conf

    from tests.redis_server import remove_queue_keys, unique_queue

    queue = unique_queue()
    settings.Q_BROKER = "redis"
    cluster = {k: v for k, v in settings.Q_CLUSTER.items() if k not in {"orm", "poll"}}
    cluster.update(name=queue, redis=redis_url, broker_class="bridge.redis_broker.PooledRedis")
    settings.Q_CLUSTER = cluster
    for name, value in {
        "ORM": None,
        "REDIS": redis_url,
        "BROKER_CLASS": cluster["broker_class"],
        "PREFIX": queue,
        "CLUSTER_NAME": queue,
        "SYNC": False,
    }.items():
        monkeypatch.setattr(Conf, name, value)
    yield queue
    remove_queue_keys(redis_url, queue)


@pytest.fixture
def teleport(pki):
    sim = TeleportSimulator(pki).start()
    yield sim
    sim.stop()


@pytest.fixture
def identity_file(pki, tmp_path) -> Path:
    path = tmp_path / "identity"
    write_identity_file(path, pki.issue_client(), pki.cluster_name)
    return path


@pytest.fixture
def mattermost():
    sim = MattermostSimulator().start()
    sim.add_team("eng", "Engineering")
    sim.channel_ids = {
        "access-requests": sim.add_channel("eng", "access-requests", "Access Requests"),
        "town-square": sim.add_channel("eng", "town-square", "Town Square"),
        "private": sim.add_channel("eng", "private", "Private", bot_member=False),
    }
    sim.user_ids = {
        name: sim.add_user(f"{name}@example.com", name) for name in ("alice", "bob", "carol")
    }
    yield sim
    sim.stop()


def write_config(
    path: Path,
    *,
    teleport_addr: str,
    identity: Path,
    mattermost_url: str,
    token: str = "sim-bot-token",
    recipients: list[str] | None = None,
    role_to_recipients: dict[str, list[str]] | None = None,
    log_output: str = "stderr",
    mattermost_extra: str = "",
    extra_toml: str = "",
    show_resources: bool | None = None,
) -> Path:
    lines = [
        "[teleport]",
        f'addr = "{teleport_addr}"',
        f'identity = "{identity}"',
        "",
        "[mattermost]",
        f'url = "{mattermost_url}"',
        f'token = "{token}"',
    ]
    if mattermost_extra:  # more [mattermost] keys (the bridge's own options)
        lines.append(mattermost_extra)
    if recipients is not None:
        lines.append("recipients = [" + ", ".join(f'"{r}"' for r in recipients) + "]")
    if show_resources is not None:
        lines.append(f"show_resources = {'true' if show_resources else 'false'}")
    if role_to_recipients:
        lines += ["", "[role_to_recipients]"]
        lines += [
            f'"{role}" = [' + ", ".join(f'"{r}"' for r in rs) + "]"
            for role, rs in role_to_recipients.items()
        ]
    lines += ["", "[log]", f'output = "{log_output}"', 'severity = "DEBUG"', ""]
    if extra_toml:  # more sections ([reminders], [audit], [web])
        lines += [extra_toml, ""]
    path.write_text("\n".join(lines))
    return path


@pytest.fixture
def plugin_config(tmp_path, teleport, identity_file, mattermost, monkeypatch):
    """A TOML wired to both simulators; TELEPORT_MATTERMOST_CONFIG points at it.

    Call it again (it is a function) to rewrite recipients for one test.
    """
    from notifications import plugindata_sync, runtime

    path = tmp_path / "teleport-mattermost.toml"

    def configure(**kwargs) -> Path:
        kwargs.setdefault("recipients", ["eng/access-requests"])
        write_config(
            path,
            teleport_addr=teleport.address,
            identity=identity_file,
            mattermost_url=mattermost.url,
            **kwargs,
        )
        runtime.reset()
        plugindata_sync.forget_all()
        return path

    configure()
    monkeypatch.setenv("TELEPORT_MATTERMOST_CONFIG", str(path))
    yield configure
    runtime.reset()
    plugindata_sync.forget_all()
