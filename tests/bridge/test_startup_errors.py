"""Bad input at start-up: every case is one line (plus an optional hint), exit code 1.

Each row starts the real `manage.py runwatcher` as a process, the way an operator does,
with one thing wrong: the TOML (syntax, types, missing keys, bad URLs), a credential file,
the token, an environment variable, the database, or (with the simulators) Teleport and
Mattermost. The output must be `CommandError: <the setting and the problem>`, optionally
followed by `hint: ...`; never a traceback, never a secret, never a worker's start line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from simulators.teleport.certs import identity_file_text, make_cluster
from tests.bridge.processes import database_url

ROOT = Path(__file__).resolve().parents[2]

# In the TOML of every row: none of it may ever be printed.
TOKEN = "tok3nS3cretabcdefghijklmnop"
DB_PASSWORD = "hunter2dbpassword"
REDIS_PASSWORD = "Zq9rEdisS3kret77"
DIRECTORY = object()  # a `files` value: create a directory there
# Not UTF-8 (0xff, lone continuation bytes), the same every run.
BINARY = bytes((i * 167 + 13) % 256 for i in range(3000))
PRODUCTION = {"DEBUG": "0", "ALLOWED_HOSTS": "example.com", "SECRET_KEY": "k" * 10 + "x" * 50}


def toml(
    teleport: str = 'addr = "127.0.0.1:1"\nidentity = "@TMP@/identity"',
    mattermost: str = f'url = "http://127.0.0.1:1"\ntoken = "{TOKEN}"',
    log: str = 'output = "@TMP@/plugin.log"',
    extra: str = "",
) -> str:
    return f"[teleport]\n{teleport}\n\n[mattermost]\n{mattermost}\n\n[log]\n{log}\n{extra}"


def token_toml(value: str) -> str:
    return toml(mattermost=f'url = "http://127.0.0.1:1"\ntoken = "{value}"')


def url_toml(value: str) -> str:
    return toml(mattermost=f'url = "{value}"\ntoken = "{TOKEN}"')


def teleport_toml(lines: str) -> str:
    return toml(teleport=lines)


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    names: str  # the setting (or file) the line must name
    toml: str = toml()
    env: Mapping[str, str | None] = dataclasses.field(default_factory=dict)
    # Written after the TOML (so "tm.toml" replaces it); bytes, DIRECTORY or fn(material).
    files: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    config: str | None = "@TMP@/tm.toml"  # None: from TELEPORT_MATTERMOST_CONFIG
    secrets: tuple[str, ...] = ()
    hint: bool = False  # a second line "hint: ..." is expected
    prepare: Callable[[Any, Any], None] | None = None  # (teleport, mattermost) simulators


@dataclasses.dataclass(frozen=True)
class Material:
    """Credential files: a good identity and ways to break it."""

    identity: str
    expired: str
    foreign_key: str  # a private key that belongs to another certificate
    key: bytes
    cert: bytes
    cas: bytes


@pytest.fixture(scope="module")
def material(pki) -> Material:
    good = pki.issue_client()
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    old = pki.issue_client(not_before=past - dt.timedelta(hours=2), not_after=past)
    return Material(
        identity=identity_file_text(good, pki.cluster_name),
        expired=identity_file_text(old, pki.cluster_name),
        foreign_key=pki.issue_client().key_pem.decode(),
        key=good.key_pem,
        cert=good.cert_pem,
        cas=good.ca_pem,
    )


def _identity(fn: Callable[[Material], str]) -> dict[str, Callable[[Material], bytes]]:
    return {"identity": lambda m: fn(m).encode()}


def _first_block_replaced(m: Material, block: str) -> str:
    """The identity file with its private key block swapped for `block`."""
    end = "-----END"
    text = m.identity
    stop = text.index("\n", text.index(end)) + 1
    return block + text[stop:]


GARBAGE_BLOCK = "-----BEGIN {0}-----\nbm90IGEgcmVhbCBibG9jaw==\n-----END {0}-----\n"
TRIPLE = (
    'addr = "127.0.0.1:1"\nclient_key = "@TMP@/auth.key"\n'
    'client_crt = "@TMP@/auth.crt"\nroot_cas = "@TMP@/auth.cas"'
)


def _triple(**override: Any) -> dict[str, Any]:
    files: dict[str, Any] = {
        "auth.key": lambda m: m.key,
        "auth.crt": lambda m: m.cert,
        "auth.cas": lambda m: m.cas,
    }
    files.update(override)
    return {k: v for k, v in files.items() if v is not None}


def _env_case(
    id: str, name: str, value: str | None, *, production: bool = False, **kw: Any
) -> Case:
    env: dict[str, str | None] = {**PRODUCTION} if production else {}
    env[name] = value
    return Case(id, kw.pop("names", name), env=env, **kw)


OFFLINE_CASES = [
    # --- the file itself -------------------------------------------------------------------
    Case("config-missing", "config file", config="@TMP@/nope.toml"),
    Case("config-is-a-directory", "config file", config="@TMP@"),
    Case("config-not-utf8", "not UTF-8", files={"tm.toml": BINARY}),
    Case("config-path-with-newline", "config file", config="@TMP@/bad\nname.toml"),
    Case("config-from-env-missing", "config file", config=None,
         env={"TELEPORT_MATTERMOST_CONFIG": "@TMP@/absent.toml"}),
    # --- TOML syntax -----------------------------------------------------------------------
    Case("toml-unclosed-table", "invalid TOML", toml="[teleport\n"),
    Case("toml-duplicate-key", "invalid TOML", toml=toml(extra='[log]\noutput = "x"\n')),
    Case("toml-nested-arrays", "nested too deeply", toml="a = " + "[" * 3000 + "]" * 3000),
    Case("toml-nested-tables", "nested too deeply",
         toml="a = " + "{b = " * 3000 + "1" + "}" * 3000),
    Case("toml-bad-escape", "invalid TOML", toml=token_toml("\\q")),
    Case("toml-nul-byte", "invalid TOML", toml=toml() + "x = 1\x00\n"),
    Case("toml-unterminated-string", "invalid TOML", toml='[mattermost]\ntoken = "abc\n'),
    # --- structure and types ---------------------------------------------------------------
    Case("teleport-not-a-table", "[teleport]", toml='teleport = 3\n[mattermost]\nurl = "x"\n'),
    Case("mattermost-not-a-table", "[mattermost]", toml='mattermost = "x"\n'),
    Case("log-not-a-table", "[log]", toml=f'log = ["x"]\n[mattermost]\ntoken = "{TOKEN}"\n'),
    Case("role-map-not-a-table", "recipients", toml="role_to_recipients = 3\n" + toml()),
    Case("role-map-value-ints", "recipients value",
         toml=toml(extra='[role_to_recipients]\n"*" = [1, 2]\n')),
    Case("role-map-value-bool", "recipients value",
         toml=toml(extra='[role_to_recipients]\n"*" = true\n')),
    Case("empty-file", "mattermost.token", toml=""),
    Case("token-missing", "mattermost.token", toml=toml(mattermost='url = "http://x"')),
    Case("url-missing", "mattermost.url", toml=toml(mattermost=f'token = "{TOKEN}"')),
    Case("token-not-a-string", "mattermost.token", toml=toml(mattermost="token = 123")),
    Case("url-not-a-string", "mattermost.url",
         toml=toml(mattermost=f'url = 1\ntoken = "{TOKEN}"')),
    Case("url-empty", "mattermost.url", toml=url_toml("")),
    Case("recipients-a-string", "mattermost.recipients",
         toml=toml(mattermost=f'url = "http://x"\ntoken = "{TOKEN}"\nrecipients = "a@b.c"')),
    Case("recipients-ints", "mattermost.recipients",
         toml=toml(mattermost=f'url = "http://x"\ntoken = "{TOKEN}"\nrecipients = [1]')),
    Case("addr-an-int", "teleport.addr", toml=teleport_toml("addr = 3025")),
    Case("identity-a-bool", "teleport.identity", toml=teleport_toml("identity = true")),
    Case("refresh-identity-a-string", "teleport.refresh_identity",
         toml=teleport_toml('identity = "@TMP@/identity"\nrefresh_identity = "yes"')),
    Case("refresh-interval-an-int", "teleport.refresh_identity_interval",
         toml=teleport_toml('identity = "@TMP@/identity"\nrefresh_identity_interval = 60')),
    Case("refresh-interval-a-bool", "teleport.refresh_identity_interval",
         toml=teleport_toml('identity = "@TMP@/identity"\nrefresh_identity_interval = true')),
    Case("refresh-interval-a-table", "teleport.refresh_identity_interval",
         toml=teleport_toml('identity = "i"\nrefresh_identity_interval = {s = 1}')),
    Case("refresh-interval-garbage", "teleport.refresh_identity_interval",
         toml=teleport_toml('identity = "@TMP@/identity"\nrefresh_identity_interval = "soon"')),
    Case("refresh-interval-negative", "teleport.refresh_identity_interval",
         toml=teleport_toml('identity = "@TMP@/identity"\nrefresh_identity_interval = "-1m"')),
    Case("partial-tls-triple", "client_key", toml=teleport_toml('client_key = "@TMP@/k"')),
    Case("identity-and-tls-triple", "identity",
         toml=teleport_toml('identity = "i"\nclient_key = "k"\nclient_crt = "c"\nroot_cas = "r"')),
    Case("refresh-without-identity", "refresh_identity",
         toml=teleport_toml("refresh_identity = true")),
    Case("severity-unknown", "log.severity", toml=toml(log='severity = "loud"')),
    Case("severity-an-int", "log.severity", toml=toml(log="severity = 3")),
    Case("format-unknown", "log.format", toml=toml(log='format = "xml"')),
    Case("log-output-no-such-dir", "log.output", toml=toml(log='output = "/nonexistent/d/x.log"')),
    Case("log-output-a-directory", "log.output", toml=toml(log='output = "@TMP@"')),
    Case("log-output-an-int", "log.output", toml=toml(log="output = 2")),
    # --- the token -------------------------------------------------------------------------
    Case("token-file-missing", "Error reading password from", toml=token_toml("@TMP@/nope")),
    Case("token-file-a-directory", "@TMP@/tokdir", toml=token_toml("@TMP@/tokdir"),
         files={"tokdir": DIRECTORY}),
    Case("token-file-empty", "mattermost.token", toml=token_toml("@TMP@/token"),
         files={"token": b"\n  \n"}),
    Case("token-file-newline-inside", "mattermost.token", toml=token_toml("@TMP@/token"),
         files={"token": b"filetokenpartone\nfiletokenparttwo\n"},
         secrets=("filetokenpartone", "filetokenparttwo")),
    Case("token-file-not-utf8", "mattermost.token", toml=token_toml("@TMP@/token"),
         files={"token": BINARY[:200]}),
    Case("token-newline", "mattermost.token", toml=token_toml(TOKEN[:12] + "\\n" + TOKEN[12:])),
    Case("token-carriage-return", "mattermost.token",
         toml=token_toml(TOKEN[:12] + "\\r" + TOKEN[12:])),
    Case("token-crlf-end", "mattermost.token", toml=token_toml(TOKEN + "\\r\\n")),
    Case("token-non-latin1", "mattermost.token", toml=token_toml(TOKEN[:12] + "€" + TOKEN[12:])),
    Case("token-latin1", "mattermost.token", toml=token_toml(TOKEN[:12] + "é" + TOKEN[12:])),
    Case("token-nul", "mattermost.token", toml=token_toml(TOKEN[:12] + "\\u0000" + TOKEN[12:])),
    Case("token-tab", "mattermost.token", toml=token_toml(TOKEN[:12] + "\\t" + TOKEN[12:])),
    Case("token-escape-sequence", "mattermost.token", toml=token_toml(TOKEN + "\\u001b[2J")),
    # --- the Mattermost URL ----------------------------------------------------------------
    Case("url-no-scheme", "mattermost.url", toml=url_toml("mattermost.example.com")),
    Case("url-ftp", "mattermost.url", toml=url_toml("ftp://mattermost.example.com")),
    Case("url-no-host", "mattermost.url", toml=url_toml("http://")),
    Case("url-broken-ipv6", "mattermost.url", toml=url_toml("http://[::1")),
    Case("url-port-out-of-range", "mattermost.url", toml=url_toml("http://mm:99999")),
    Case("url-port-zero", "mattermost.url", toml=url_toml("http://mm:0")),
    Case("url-with-space", "mattermost.url", toml=url_toml("http://mm .example.com")),
    Case("url-with-newline", "mattermost.url", toml=url_toml("http://mm\\n.example.com")),
    Case("url-credentials-bad-scheme", "mattermost.url",
         toml=url_toml("mm://admin:hunter2urlpass@mm.example.com"), secrets=("hunter2urlpass",)),
    # --- credentials -----------------------------------------------------------------------
    Case("identity-missing", "identity file",
         toml=teleport_toml('addr = "127.0.0.1:1"\nidentity = "@TMP@/no-identity"')),
    Case("identity-random-bytes", "identity file", files={"identity": BINARY}),
    Case("identity-a-directory", "identity file", files={"identity": DIRECTORY}),
    Case("identity-empty", "identity file", files={"identity": b""}),
    Case("identity-garbage-blocks", "identity file",
         files={"identity": (GARBAGE_BLOCK.format("X") * 3).encode()}),
    Case("identity-fragment", "identity file",
         files={"identity": b"-----BEGIN CERTIFICATE-----\nabc\n"}),
    Case("identity-two-blocks", "identity file",
         files=_identity(lambda m: m.key.decode() + m.cert.decode())),
    Case("identity-bad-key", "identity file",
         files=_identity(lambda m: _first_block_replaced(m, GARBAGE_BLOCK.format("PRIVATE KEY")))),
    Case("identity-foreign-key", "identity file",
         files=_identity(lambda m: _first_block_replaced(m, m.foreign_key))),
    Case("identity-bad-ca", "identity file",
         files=_identity(lambda m: m.key.decode() + m.cert.decode()
                         + GARBAGE_BLOCK.format("CERTIFICATE"))),
    Case("identity-expired", "No valid credentials found", files=_identity(lambda m: m.expired)),
    Case("no-credentials", "no credentials configured",
         toml=teleport_toml('addr = "127.0.0.1:1"')),
    Case("triple-key-missing", "teleport.client_key", toml=teleport_toml(TRIPLE),
         files=_triple(**{"auth.key": None})),
    Case("triple-crt-garbage", "teleport.client_crt", toml=teleport_toml(TRIPLE),
         files=_triple(**{"auth.crt": b"garbage"})),
    Case("triple-cas-garbage", "teleport.root_cas", toml=teleport_toml(TRIPLE),
         files=_triple(**{"auth.cas": GARBAGE_BLOCK.format("CERTIFICATE").encode()})),
    Case("triple-foreign-key", "teleport.client_key", toml=teleport_toml(TRIPLE),
         files=_triple(**{"auth.key": lambda m: m.foreign_key.encode()})),
    # --- environment -----------------------------------------------------------------------
    _env_case("fail-fast-yes", "TELEPORT_PLUGIN_FAIL_FAST", "yes"),
    _env_case("debug-maybe", "DEBUG", "maybe"),
    _env_case("debug-2", "DEBUG", "2"),
    _env_case("q-workers-abc", "Q_WORKERS", "abc"),
    _env_case("q-workers-zero", "Q_WORKERS", "0"),
    _env_case("q-workers-negative", "Q_WORKERS", "-1"),
    _env_case("q-timeout-not-below-retry", "Q_TIMEOUT", "300"),
    _env_case("q-retry-abc", "Q_RETRY", "abc"),
    _env_case("q-sync-sometimes", "Q_SYNC", "sometimes"),
    _env_case("hsts-negative", "SECURE_HSTS_SECONDS", "-1", production=True),
    _env_case("hsts-fraction", "SECURE_HSTS_SECONDS", "1.5", production=True),
    _env_case("ssl-redirect-2", "SECURE_SSL_REDIRECT", "2", production=True),
    _env_case("session-cookie-maybe", "SESSION_COOKIE_SECURE", "maybe", production=True),
    _env_case("csrf-cookie-perhaps", "CSRF_COOKIE_SECURE", "perhaps", production=True),
    _env_case("allowed-hosts-empty", "ALLOWED_HOSTS", "", production=True),
    _env_case("allowed-hosts-commas", "ALLOWED_HOSTS", ",,", production=True),
    _env_case("csrf-origins-no-scheme", "CSRF_TRUSTED_ORIGINS", "example.com"),
    _env_case("secret-key-unset", "SECRET_KEY", None, production=True, hint=True),
    _env_case("secret-key-empty", "SECRET_KEY", "", production=True, hint=True),
    _env_case("secret-key-file-missing", "SECRET_KEY_FILE", "@TMP@/nokey"),
    _env_case("secret-key-file-empty", "SECRET_KEY_FILE", "@TMP@/key",
              files={"key": b"\n"}),
    _env_case("secret-key-file-a-directory", "SECRET_KEY_FILE", "@TMP@"),
    _env_case("secret-key-file-not-utf8", "SECRET_KEY_FILE", "@TMP@/key",
              files={"key": BINARY}),
    _env_case("log-level-loud", "LOG_LEVEL", "loud"),
    _env_case("forced-stop-abc", "FORCED_STOP_SECONDS", "abc"),
    _env_case("forced-stop-zero", "FORCED_STOP_SECONDS", "0"),
    _env_case("forced-stop-nan", "FORCED_STOP_SECONDS", "nan"),
    _env_case("notify-attempts-zero", "NOTIFY_MAX_ATTEMPTS", "0"),
    _env_case("sending-lease-zero", "NOTIFY_SENDING_LEASE_SECONDS", "0"),
    _env_case("late-review-negative", "AUDIT_LATE_REVIEW_SECONDS", "-5"),
    _env_case("notify-deadline-abc", "AUDIT_NOTIFY_DEADLINE_SECONDS", "abc"),
    _env_case("amr-timezone-unknown", "AMR_TIMEZONE", "Mars/Olympus"),
    _env_case("amr-traits-cache-zero", "AMR_TRAITS_CACHE_SECONDS", "0"),
    # --- the database ----------------------------------------------------------------------
    _env_case("database-unknown-scheme", "DATABASE_URL", "mysqlx://u:p@h/db"),
    _env_case("database-bad-port", "DATABASE_URL",
              f"postgres://bridge:{DB_PASSWORD}@127.0.0.1:port/bridge",
              secrets=(DB_PASSWORD,)),
    _env_case("database-unreachable", "DATABASE_URL",
              f"postgres://bridge:{DB_PASSWORD}@127.0.0.1:1/bridge", secrets=(DB_PASSWORD,)),
    _env_case("database-no-such-dir", "DATABASE_URL", "sqlite:////nonexistent-dir/db.sqlite3"),
    _env_case("database-not-migrated", "DATABASE_URL", "sqlite:///@TMP@/fresh.sqlite3",
              hint=True, files={"identity": lambda m: m.identity.encode()}),
    # --- the queue's broker ------------------------------------------------------------------
    _env_case("q-broker-unknown", "Q_BROKER", "rabbitmq"),
    Case("redis-url-missing", "REDIS_URL", env={"Q_BROKER": "redis", "REDIS_URL": None}),
    Case("redis-url-empty", "REDIS_URL", env={"Q_BROKER": "redis", "REDIS_URL": " "}),
    Case("redis-url-http", "REDIS_URL", secrets=(REDIS_PASSWORD,),
         env={"Q_BROKER": "redis", "REDIS_URL": f"http://:{REDIS_PASSWORD}@127.0.0.1:6379/0"}),
    Case("redis-url-bad-port", "REDIS_URL", secrets=(REDIS_PASSWORD,),
         env={"Q_BROKER": "redis", "REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:port/0"}),
    Case("redis-url-bad-db", "REDIS_URL", secrets=(REDIS_PASSWORD,),
         env={"Q_BROKER": "redis", "REDIS_URL": f"redis://:{REDIS_PASSWORD}@h:6379/queue"}),
    Case("redis-url-bad-option", "REDIS_URL", secrets=(REDIS_PASSWORD,),
         env={"Q_BROKER": "redis",
              "REDIS_URL": f"redis://:{REDIS_PASSWORD}@h:6379/0?socket_timeout=soon"}),
    Case("redis-queue-with-space", "REDIS_QUEUE",
         env={"Q_BROKER": "redis", "REDIS_URL": "redis://h:6379/0", "REDIS_QUEUE": "a b"}),
]  # fmt: skip


def _good_identity(case: Case) -> Case:
    """Rows about something else get a valid identity file unless they bring their own."""
    if "identity" in case.files:
        return case
    files = {"identity": lambda m: m.identity.encode(), **case.files}
    return dataclasses.replace(case, files=files)


def _env(tmp: Path, overrides: Mapping[str, str | None], database: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEPORT_", "SECRET_KEY"))}
    for name in ("ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "LOG_LEVEL", "SQLITE_TEST_NAME"):
        env.pop(name, None)
    env.update({"DEBUG": "1", "Q_WORKERS": "1", "DATABASE_URL": database})
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value.replace("@TMP@", str(tmp))
    return env


def _leaks(text: str, secret: str) -> list[str]:
    return [secret[i : i + 8] for i in range(len(secret) - 7) if secret[i : i + 8] in text]


def run_case(
    case: Case, tmp: Path, material: Material, database: str, subs: Mapping[str, str] = {}
) -> None:
    substitutions = {"@TMP@": str(tmp), **subs}

    def fill(text: str) -> str:
        for key, value in substitutions.items():
            text = text.replace(key, value)
        return text

    (tmp / "tm.toml").write_text(fill(case.toml))
    for name, content in case.files.items():
        path = tmp / name
        if content is DIRECTORY:
            path.mkdir()
        else:
            path.write_bytes(content(material) if callable(content) else content)
    args = ["--config", fill(case.config)] if case.config is not None else []
    # No status server: the default port (8081) is one per machine, and two cases that get
    # as far as starting it at once (pytest-xdist) failed on the port, not on their case.
    args += ["--status-addr", ""]
    proc = subprocess.run(
        [sys.executable, "manage.py", "runwatcher", *args],
        cwd=ROOT,
        env=_env(tmp, case.env, database),
        capture_output=True,
        timeout=120,
    )
    out = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
    lines = out.split("\n")
    assert lines[-1] == "", out  # ends with a newline
    lines = lines[:-1]
    assert proc.returncode == 1, out
    assert "Traceback" not in out, out
    assert len(lines) == (2 if case.hint else 1), out
    assert lines[0].startswith("CommandError: "), out
    assert not case.hint or lines[1].startswith("hint: "), out
    assert fill(case.names).replace("\n", "\\n") in lines[0], out
    for secret in (TOKEN, *case.secrets):
        assert _leaks(out, secret) == [], out
    log = tmp / "plugin.log"
    for text in (out, log.read_text() if log.is_file() else ""):
        assert "django-q" not in text and "worker" not in text, text  # nothing started


@pytest.mark.parametrize("case", [_good_identity(c) for c in OFFLINE_CASES], ids=lambda c: c.id)
def test_refused_before_anything_starts(case, tmp_path, material):
    run_case(case, tmp_path, material, f"sqlite:///{tmp_path / 'unmigrated.sqlite3'}")


def _deny(*verbs: tuple[str, str]) -> Callable[[Any, Any], None]:
    def prepare(teleport, mattermost) -> None:
        for verb, resource in verbs:
            teleport.deny(verb, resource)

    return prepare


def _foreign_identity(m: Material) -> bytes:
    other = make_cluster("other.example.com")
    return identity_file_text(other.issue_client(), other.cluster_name).encode()


ONLINE = toml(
    teleport='addr = "@TELEPORT@"\nidentity = "@TMP@/identity"',
    mattermost=f'url = "@MATTERMOST@"\ntoken = "{TOKEN}"',
)
ONLINE_CASES = [
    Case("teleport-unreachable", "[teleport] addr",
         toml=ONLINE.replace("@TELEPORT@", "127.0.0.1:1")),
    Case("teleport-addr-is-mattermost", "[teleport] addr",
         toml=ONLINE.replace("@TELEPORT@", "@MATTERMOST_HOSTPORT@")),
    Case("identity-of-another-cluster", "[teleport] addr and the identity", toml=ONLINE,
         files={"identity": _foreign_identity}),
    Case("role-lacks-verbs", "access_request: [list]", toml=ONLINE,
         prepare=_deny(("list", "access_request"), ("read", "access_plugin_data"))),
    Case("mattermost-unreachable", "[mattermost] url",
         toml=ONLINE.replace("@MATTERMOST@", "http://127.0.0.1:1")),
    Case("mattermost-wrong-path", "[mattermost] url",
         toml=ONLINE.replace("@MATTERMOST@", "@MATTERMOST@/no/such/prefix")),
    Case("mattermost-url-is-teleport", "[mattermost] url",
         toml=ONLINE.replace("@MATTERMOST@", "https://@TELEPORT@")),
    # The database is fine (migrated), Redis is not there: refused before "Plugin is ready".
    Case("redis-unreachable", "REDIS_URL: cannot use Redis", toml=ONLINE,
         secrets=(REDIS_PASSWORD,),
         env={"Q_BROKER": "redis", "REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:1/0"}),
    Case("mattermost-wrong-token", "[mattermost] token",
         toml=ONLINE.replace(TOKEN, "wrongtokenabcdefghijklmno"),
         secrets=("wrongtokenabcdefghijklmno",)),
]  # fmt: skip


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", [_good_identity(c) for c in ONLINE_CASES], ids=lambda c: c.id)
def test_refused_by_the_start_up_checks(case, tmp_path, material, teleport, mattermost):
    if case.prepare is not None:
        case.prepare(teleport, mattermost)
    subs = {
        "@TELEPORT@": teleport.address,
        "@MATTERMOST_HOSTPORT@": mattermost.url.split("://", 1)[1],
        "@MATTERMOST@": mattermost.url,
    }
    run_case(case, tmp_path, material, database_url(), subs)


def test_the_table_is_broad():
    """The issue tried 65 bad inputs; this table keeps at least that many, and more."""
    ids = [c.id for c in OFFLINE_CASES + ONLINE_CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 65


def test_one_off_commands_work_without_a_secret_key(tmp_path):
    """DEBUG off and no SECRET_KEY: servers refuse, but migrate/check/makemigrations run."""
    env = _env(tmp_path, {**PRODUCTION, "SECRET_KEY": None}, "sqlite://:memory:")
    for command in (["makemigrations", "--check", "--dry-run"], ["check"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True
        )
        assert done.returncode == 0, done.stderr
    for command in (["qcluster"], ["runserver", "--noreload", "127.0.0.1:1"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1
        line, hint = done.stderr.splitlines()
        assert line.startswith("CommandError: SECRET_KEY is not set") and hint.startswith("hint:")


@pytest.mark.django_db(transaction=True)
def test_sigterm_during_the_start_up_checks_stops_at_once(tmp_path, material, mattermost):
    """The checks run in a child process; a stop signal meanwhile must not wait for them."""
    import signal
    import socket
    import time

    from bridge.proctree import descendants, running
    from tests.waiting import wait_until

    (tmp_path / "identity").write_text(material.identity)
    with socket.socket() as silent:  # accepts TCP (backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        config = tmp_path / "tm.toml"
        config.write_text(
            toml(
                teleport=f'addr = "127.0.0.1:{silent.getsockname()[1]}"\n'
                f'identity = "{tmp_path / "identity"}"',
                mattermost=f'url = "{mattermost.url}"\ntoken = "{TOKEN}"',
            ).replace("@TMP@", str(tmp_path))
        )
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "runwatcher", "--config", str(config)],
            cwd=ROOT,
            env=_env(tmp_path, {}, database_url()),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            children = wait_until(
                lambda: descendants(proc.pid), timeout=60, message="the check's child"
            )
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert time.monotonic() - started < 3
    wait_until(lambda: not any(running(pid) for pid in children), timeout=5, message="no orphan")
    assert proc.returncode == 0, out
    assert b"Traceback" not in out and b"django-q" not in out
    assert (
        not (tmp_path / "plugin.log").exists()
        or "worker" not in (tmp_path / "plugin.log").read_text()
    )
