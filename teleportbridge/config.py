"""The official plugin's TOML, parsed unchanged, with the same defaults and error texts.

Drop-in compatibility is the point: a file that works with `teleport-mattermost start`
works here, and a file it rejects is rejected with the same message (one line, naming the
key).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from teleportbridge.config_features import (
    FEATURE_KEYS,
    FeatureError,
    FeaturesConfig,
    parse_features,
)

log = logging.getLogger(__name__)

DEFAULT_ADDR = "localhost:3025"
DEFAULT_REFRESH_INTERVAL = timedelta(minutes=1)
TOKEN_FILE_MAX_BYTES = 2000

_KNOWN_KEYS = {
    "teleport": {
        "addr",
        "auth_server",
        "identity",
        "refresh_identity",
        "refresh_identity_interval",
        "client_key",
        "client_crt",
        "root_cas",
    },
    "mattermost": {"url", "token", "recipients"} | FEATURE_KEYS["mattermost"],
    "log": {"output", "severity", "format"},
    # The bridge's own sections (config_features.py); the Go plugin ignores them.
    "reminders": FEATURE_KEYS["reminders"],
    "audit": FEATURE_KEYS["audit"],
    "web": FEATURE_KEYS["web"],
}
_SEVERITIES = {
    "info": "INFO",
    "err": "ERROR",
    "error": "ERROR",
    "debug": "DEBUG",
    "warn": "WARNING",
    "warning": "WARNING",
    "trace": "DEBUG",
}


class ConfigError(Exception):
    """A configuration problem; str() is the one line shown to the user."""


@dataclasses.dataclass(frozen=True)
class TeleportConfig:
    addr: str = DEFAULT_ADDR
    identity: str = ""
    refresh_identity: bool = False
    refresh_identity_interval: timedelta = DEFAULT_REFRESH_INTERVAL
    client_key: str = ""
    client_crt: str = ""
    root_cas: str = ""


@dataclasses.dataclass(frozen=True)
class MattermostConfig:
    url: str
    # repr=False: the token must never show up in logs, tracebacks or the admin.
    token: str = dataclasses.field(repr=False)
    recipients: tuple[str, ...] = ()
    # Our addition (off by default: the Go plugin's text stays byte-exact): a
    # `**Resources**:` line in the root post naming the requested resources.
    show_resources: bool = False


@dataclasses.dataclass(frozen=True)
class LogConfig:
    output: str = "stderr"
    severity: str = "INFO"
    format: str = "text"


@dataclasses.dataclass(frozen=True)
class Config:
    teleport: TeleportConfig
    mattermost: MattermostConfig
    role_to_recipients: Mapping[str, tuple[str, ...]]
    log: LogConfig
    warnings: tuple[str, ...] = ()
    features: FeaturesConfig = dataclasses.field(default_factory=FeaturesConfig)

    def recipients_for_roles(self, roles: list[str]) -> list[str]:
        """The plugin's role routing: each role's list, else the "*" list; de-duplicated."""
        out: list[str] = []
        fallback = self.role_to_recipients.get("*", ())
        for role in roles:
            for raw in self.role_to_recipients.get(role) or fallback:
                if raw not in out:
                    out.append(raw)
        return out


def _go_type_name(value: Any) -> str:
    """The Go type name the official plugin prints for a TOML value (%T)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return "time.Time"


def _parse_role_to_recipients(section: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(section, dict):
        raise ConfigError(f"unexpected type for recipients {_go_type_name(section)}")
    out: dict[str, tuple[str, ...]] = {}
    for role, value in section.items():
        if isinstance(value, str):
            out[role] = (value,)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[role] = tuple(value)
        else:
            raise ConfigError(f"unexpected type for recipients value {_go_type_name(value)}")
    return out


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_go_duration(text: str, key: str) -> timedelta:
    """Parse a Go duration string ("1m", "90s", "1h30m") as the plugin's config does."""
    text = text.strip()
    if text == "0":
        return timedelta(0)
    pos, seconds = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ConfigError(f'{key}: invalid duration "{text}"')
    return timedelta(seconds=seconds)


def _str(section: dict, key: str, prefix: str, default: str = "") -> str:
    value = section.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{prefix}.{key} must be a string, got {_go_type_name(value)}")
    return value


def _read_token(raw: str) -> str:
    """A token starting with "/" is a file path, read like the plugin (≤ 2000 bytes, trimmed)."""
    if not raw.startswith("/"):
        return raw
    path = Path(raw)
    try:
        with path.open("rb") as fh:
            data = fh.read(TOKEN_FILE_MAX_BYTES)
    except FileNotFoundError:
        raise ConfigError(f"Error reading password from {raw}") from None
    except OSError as exc:
        raise ConfigError(f"open {raw}: {exc.strerror.lower() if exc.strerror else exc}") from None
    return data.decode("utf-8", errors="replace").strip()


def _check_token(token: str, raw: str) -> None:
    """Refuse a token no HTTP client can send, naming the problem and never the token.

    The Go plugin fails too, later and less clearly (Go refuses the header; a non-ASCII
    token is sent as UTF-8 and rejected with 401). Mattermost tokens are 26 letters and
    digits, so nothing that works with the plugin is refused here.
    """
    where = f"mattermost.token (read from {raw})" if raw.startswith("/") else "mattermost.token"
    for position, char in enumerate(token, 1):
        if char in "\r\n":
            problem = "a line break"
        elif char < " " or char == "\x7f":
            problem = "a control character"
        elif char > "\x7e":
            problem = "a non-ASCII character"
        else:
            continue
        raise ConfigError(
            f"{where} contains {problem} at position {position} of {len(token)}: a "
            "Mattermost token is one line of letters and digits"
        )


def _check_url(url: str) -> None:
    """A URL the HTTP client can call; the plugin would fail at its health check instead.

    The URL itself is not repeated: it may carry credentials (https://user:pass@host).
    """
    if any(char <= " " or char == "\x7f" for char in url):
        raise ConfigError("mattermost.url contains whitespace or a control character")
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as exc:
        raise ConfigError(f"mattermost.url is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise ConfigError(
            "mattermost.url must start with http:// or https:// "
            '(for example "https://mattermost.example.com")'
        )
    if not parts.hostname:
        raise ConfigError("mattermost.url has no host name")
    if not port_ok:
        raise ConfigError("mattermost.url has an invalid port")


def _check_teleport(tp: TeleportConfig) -> None:
    triple = {"client_key": tp.client_key, "client_crt": tp.client_crt, "root_cas": tp.root_cas}
    given = [k for k, v in triple.items() if v]
    missing = [k for k, v in triple.items() if not v]
    if given and missing:
        quoted_given = ", ".join(f"`{k}`" for k in given)
        quoted_missing = ", ".join(f"`{k}`" for k in missing)
        raise ConfigError(
            f"configuration setting(s) {quoted_given} are provided but setting(s) "
            f"{quoted_missing} are missing"
        )
    if tp.identity and tp.client_crt:
        raise ConfigError(
            "configuration setting `identity` is mutually exclusive with all the "
            "`client_crt`, `client_key` and `root_cas` settings"
        )
    if tp.refresh_identity and not tp.identity:
        raise ConfigError("`refresh_identity` requires that `identity` be set")


def parse_config(text: str, source: str = "<config>") -> Config:
    """Parse and validate the plugin TOML text; raises ConfigError with one line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise ConfigError(f"{source}: invalid TOML: arrays or tables nested too deeply") from None

    warnings: list[str] = []
    for section, keys in _KNOWN_KEYS.items():
        value = data.get(section, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{section}] must be a table, got {_go_type_name(value)}")
        warnings.extend(
            f"unknown key {section}.{key} is ignored" for key in sorted(set(value) - keys)
        )
    warnings.extend(
        f"unknown section [{name}] is ignored"
        for name in sorted(set(data) - set(_KNOWN_KEYS) - {"role_to_recipients"})
    )
    role_map = _parse_role_to_recipients(data.get("role_to_recipients", {}))

    mm = data.get("mattermost", {})
    token_raw = _str(mm, "token", "mattermost")
    token = _read_token(token_raw)

    tp = data.get("teleport", {})
    addr = _str(tp, "addr", "teleport")
    if not addr and tp.get("auth_server"):
        addr = _str(tp, "auth_server", "teleport")
        warnings.append("teleport.auth_server is deprecated, use teleport.addr")
    refresh = tp.get("refresh_identity", False)
    if not isinstance(refresh, bool):
        raise ConfigError("teleport.refresh_identity must be a boolean")
    interval_raw = tp.get("refresh_identity_interval", "")
    if not isinstance(interval_raw, str):
        raise ConfigError(
            'teleport.refresh_identity_interval must be a duration string such as "1m" or '
            f'"90s", got {_go_type_name(interval_raw)}'
        )
    interval = (
        parse_go_duration(interval_raw, "teleport.refresh_identity_interval")
        if interval_raw
        else DEFAULT_REFRESH_INTERVAL
    )
    teleport = TeleportConfig(
        addr=addr or DEFAULT_ADDR,
        identity=_str(tp, "identity", "teleport"),
        refresh_identity=refresh,
        refresh_identity_interval=interval if interval > timedelta(0) else DEFAULT_REFRESH_INTERVAL,
        client_key=_str(tp, "client_key", "teleport"),
        client_crt=_str(tp, "client_crt", "teleport"),
        root_cas=_str(tp, "root_cas", "teleport"),
    )
    _check_teleport(teleport)

    if not token:
        raise ConfigError("missing required value mattermost.token")
    _check_token(token, token_raw)
    url = _str(mm, "url", "mattermost").rstrip("/")
    if not url:
        raise ConfigError("missing required value mattermost.url")
    _check_url(url)
    recipients = mm.get("recipients", [])
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        raise ConfigError("mattermost.recipients must be a list of strings")
    if recipients:
        # As in the plugin: a plain recipients list replaces the whole role map.
        if role_map:
            warnings.append("[role_to_recipients] is ignored because mattermost.recipients is set")
        role_map = {"*": tuple(recipients)}

    show_resources = mm.get("show_resources", False)
    if not isinstance(show_resources, bool):
        raise ConfigError(
            f"mattermost.show_resources must be a boolean, got {_go_type_name(show_resources)}"
        )

    lg = data.get("log", {})
    severity_raw = _str(lg, "severity", "log", "info")
    severity = _SEVERITIES.get(severity_raw.lower())
    if severity is None:
        raise ConfigError(f'unsupported logger severity "{severity_raw}" (log.severity)')
    fmt = _str(lg, "format", "log", "text").lower() or "text"
    if fmt not in {"text", "json"}:
        raise ConfigError(f'log.format must be "text" or "json", got "{fmt}"')

    try:
        features = parse_features(data, parse_go_duration)
    except FeatureError as exc:
        raise ConfigError(str(exc)) from None

    return Config(
        features=features,
        teleport=teleport,
        mattermost=MattermostConfig(
            url=url, token=token, recipients=tuple(recipients), show_resources=show_resources
        ),
        role_to_recipients=role_map,
        log=LogConfig(output=_str(lg, "output", "log", "stderr"), severity=severity, format=fmt),
        warnings=tuple(warnings),
    )


_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_fail_fast(value: str) -> bool:
    """TELEPORT_PLUGIN_FAIL_FAST with Go's strconv.ParseBool rules (unset or empty: off).

    Kept to Go's exact spellings so an environment that works with the plugin works here
    and one it rejects ("yes", "on") is rejected too, with the plugin's message.
    """
    if value == "" or value in _GO_FALSE:
        return False
    if value in _GO_TRUE:
        return True
    raise ConfigError(
        f"failed to parse content '{value}' of the TELEPORT_PLUGIN_FAIL_FAST environment variable"
    )


def load_config(path: str | Path) -> Config:
    """Read and parse the TOML file at path; a missing file is a one-line ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    return parse_config(text, str(path))


SAMPLE_CONFIG = """\
# teleport-mattermost-bridge configuration; the same file works with teleport-mattermost.
[teleport]
# Teleport Auth Service (host:3025) or Proxy / Teleport Cloud address (host:443).
addr = "example.com:3025"
# Identity file exported with `tctl auth sign --user=access-plugin --out=auth.pem`
# or written by tbot (then also set refresh_identity = true).
identity = "/var/lib/teleport/plugins/mattermost/auth.pem"
# refresh_identity = true        # re-read the identity file (tbot renews it)
# refresh_identity_interval = "1m"
# Or the TLS triple from `tctl auth sign --format=tls` (all three, instead of identity):
# client_key = "/var/lib/teleport/plugins/mattermost/auth.key"
# client_crt = "/var/lib/teleport/plugins/mattermost/auth.crt"
# root_cas = "/var/lib/teleport/plugins/mattermost/auth.cas"

[mattermost]
url = "https://mattermost.example.com"  # Mattermost server URL
token = "api-token"                      # bot token, or a file path starting with "/"
# Email addresses (direct messages) or "team/channel" (team and channel *names* as in
# the channel URL, e.g. "myteam/town-square", not display names like "Town Square").
recipients = ["my-team/general", "first.last@example.com"]

# Or route by requested role ("*" is the fallback); ignored when recipients is set.
# [role_to_recipients]
# "*" = "my-team/access-requests"
# "dbadmin" = ["my-team/dba", "dba-lead@example.com"]

# Bridge-only options under [mattermost] (all off by default; the Go plugin ignores them):
# notify_requester = true          # DM the requester when approved, denied, promoted, expired
# notify_requester_on_post = true  # and when the request is first posted
# requester_trait = "mattermost_username"  # Teleport trait with the Mattermost user name,
#                                          # for users whose Teleport name is not an email
# show_reviewers = true            # list reviews so far in the root post

# [reminders]                       # thread replies while a request stays pending
# after = "30m"                     # first reminder this long after the request was made
# every = "1h"                      # then again this often ...
# max = 3                           # ... up to this many reminders in all
# escalate_to = ["my-team/oncall", "lead@example.com"]  # a new root post there ...
# escalate_after = "2h"             # ... when still pending this long
# quiet_hours = "22:00-07:00"       # no reminders in this window (wait for its end)
# timezone = "UTC"                  # of quiet_hours

# [audit]                           # security alerts (anomalies in the dashboard)
# alert_channel = "my-team/access-alerts"
# alert_recipients = ["security@example.com"]   # direct messages too
# digest_at = "09:00"               # a daily summary of the last 24 hours
# timezone = "UTC"                  # of digest_at

# [web]
# public_url = "https://bridge.example.com"     # the dashboard, for links in alerts

[log]
output = "stderr" # "stdout", "stderr" or a file path such as "/var/lib/teleport/mattermost.log"
severity = "INFO" # "INFO", "ERROR", "DEBUG" or "WARN"
"""
