"""Settings, read from the environment with django-environ (and nowhere else).

Embedded default: an SQLite file in the data directory (bridge/datadir.py) and
django-q2's ORM broker, so one machine runs everything. Production:
DATABASE_URL=postgres://..., DEBUG off, a real SECRET_KEY. Every bad value stops
start-up with one line naming the variable (an ImproperlyConfigured that manage.py prints
as that one line): a typo must never be read as some default (`DEBUG=maybe` is not
"off", `SECURE_HSTS_SECONDS=-1` is not "no HSTS").
"""

from __future__ import annotations

import math
import os
import re
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A .env file beside manage.py is optional and never required in production.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _invalid(name: str, problem: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"environment variable {name} is invalid: {problem}")


def _env(reader, name: str, **kwargs):
    """Read one variable, turning django-environ's tracebacks into one clear line."""
    try:
        return reader(name, **kwargs)
    except (ValueError, ImproperlyConfigured) as exc:
        raise _invalid(name, str(exc)) from None


_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def _bool(name: str, default: bool) -> bool:
    """Strict: django-environ reads anything unknown (`DEBUG=maybe`) as False."""
    raw = env.str(name, default="").strip()
    if not raw:
        return default
    if raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    raise _invalid(name, f"{raw!r} is not a boolean (use true/false, 1/0, yes/no, on/off)")


def _int(name: str, default: int, *, minimum: int) -> int:
    value = _env(env.int, name, default=default)
    if value < minimum:
        raise _invalid(name, f"{value} is below the minimum of {minimum}")
    return value


def _seconds(name: str, default: float) -> float:
    # Not env.float: it drops every character but digits and dots ("1e3s" -> "13").
    raw = env.str(name, default="").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise _invalid(name, f"{raw!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise _invalid(name, f"{raw!r} is not a positive number of seconds")
    return value


DEBUG = _bool("DEBUG", default=False)


def _read_secret_file(path: str, name: str = "SECRET_KEY_FILE") -> str:
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise _invalid(name, f"{path} does not exist") from None
    except OSError as exc:
        raise _invalid(name, f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise _invalid(name, f"{path} is not UTF-8 text") from None
    if not key:
        raise _invalid(name, f"{path} is empty")
    return key


# The key signs sessions, CSRF tokens and django-q2's pickled tasks: runwatcher, qcluster
# and the web UI must share it, and a public one lets anyone who can write the task table
# run code in the workers. Without SECRET_KEY/SECRET_KEY_FILE: with DEBUG on (the demo,
# development) a fixed development key; with DEBUG off a random per-process key, so
# one-off commands (migrate, collectstatic, makemigrations, the tests) still work, while
# the server processes (runwatcher, qcluster, runserver, the WSGI app) refuse to start
# (bridge/startup.py). Both are prefixed django-insecure-, which check --deploy flags.
_secret_file = env.str("SECRET_KEY_FILE", default="")
SECRET_KEY = _read_secret_file(_secret_file) if _secret_file else env.str("SECRET_KEY", default="")
SECRET_KEY_CONFIGURED = bool(SECRET_KEY)
if not SECRET_KEY:
    SECRET_KEY = (
        "django-insecure-demo-only-change-me"
        if DEBUG
        else f"django-insecure-unset-{secrets.token_urlsafe(40)}"
    )
ALLOWED_HOSTS = [
    host
    for host in _env(env.list, "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
    if host.strip()
]
if not ALLOWED_HOSTS and not DEBUG:
    # Django would answer every request with 400 Bad Request.
    raise _invalid("ALLOWED_HOSTS", "empty while DEBUG is off; list the web UI's host names")
CSRF_TRUSTED_ORIGINS = _env(env.list, "CSRF_TRUSTED_ORIGINS", default=[])
for _origin in CSRF_TRUSTED_ORIGINS:
    if "://" not in _origin:
        raise _invalid(
            "CSRF_TRUSTED_ORIGINS", f"{_origin!r} has no scheme (write https://{_origin})"
        )

# Path of the plugin's TOML; `runwatcher --config` overrides it.
TELEPORT_MATTERMOST_CONFIG = env.str(
    "TELEPORT_MATTERMOST_CONFIG", default="/etc/teleport-mattermost.toml"
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "axes",
    "bridge",
    "teleportbridge",
    "notifications",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "dashboard.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "dashboard.security.NulCharacterMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "bridge.urls"
WSGI_APPLICATION = "bridge.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _embedded_database_url() -> str:
    """Without DATABASE_URL: SQLite in the data directory (bridge/datadir.py), wherever
    the code was installed and whatever the current directory."""
    from bridge.datadir import DataDirError, sqlite_url

    try:
        return sqlite_url()
    except DataDirError as exc:
        raise _invalid("TELEPORT_MATTERMOST_DATA", str(exc)) from None


if env.str("DATABASE_URL", default="").strip():
    DATABASES = {"default": _env(env.db, "DATABASE_URL")}
else:
    DATABASES = {"default": environ.Env.db_url_config(_embedded_database_url())}
_db = DATABASES["default"]
if _db["ENGINE"] not in {
    "django.db.backends.postgresql",
    "django.db.backends.sqlite3",
}:
    # django-environ passes an unknown scheme through as the engine name. Never echo
    # the URL: it may carry a password.
    raise _invalid("DATABASE_URL", "use a postgres:// or sqlite:/// URL")
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # The watcher, the workers and the web server write concurrently: WAL plus a busy
    # timeout and IMMEDIATE transactions avoid "database is locked" under that load.
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests run the watcher, simulators and workers in threads: an in-memory shared-cache
    # database raises "table is locked" instead of waiting, so tests use a real file.
    _db.setdefault("TEST", {})["NAME"] = env.str(
        "SQLITE_TEST_NAME",
        default=str(Path(tempfile.gettempdir()) / f"teleportbridge-test-{os.getpid()}.sqlite3"),
    )
# Persistent connections on both databases. The watcher (per batch of events) and
# django-q2's workers (per task) call close_old_connections(); with Django's default
# CONN_MAX_AGE = 0 that reopened the connection every time: on SQLite a third of the
# watcher's CPU in a burst went to connecting and re-running the PRAGMAs, on PostgreSQL a
# backend start per task.
# The health check replaces a connection the server dropped (a restart) before it is used.
_db.setdefault("CONN_MAX_AGE", 60)
_db["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Login throttling (django-axes, on the dashboard's and the admin's login alike): after
# LOGIN_FAILURE_LIMIT failed logins for one user name, or from one address, every further
# attempt for that name or from that address, even with the right password, gets a 429
# page until LOGIN_LOCKOUT_MINUTES pass without a failure. Unlock early with
# `manage.py axes_reset_username NAME` / `axes_reset_ip ADDRESS` (or the admin).
LOGIN_FAILURE_LIMIT = _int("LOGIN_FAILURE_LIMIT", default=5, minimum=1)
LOGIN_LOCKOUT_MINUTES = _int("LOGIN_LOCKOUT_MINUTES", default=15, minimum=1)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out name or address
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own, not the pair
# A success does not clear the count: it clears every parameter's, so one valid account
# could reset its address's count between guesses at another user's password.
AXES_RESET_ON_SUCCESS = False
AXES_CLIENT_IP_CALLABLE = "dashboard.security.client_ip"
AXES_USERNAME_CALLABLE = "dashboard.security.login_username"
AXES_LOCKOUT_CALLABLE = "dashboard.security.locked_out"
AXES_VERBOSE = False  # no banner at the start of every manage.py command

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "login"

# Security headers: on by default, relaxed only where the demo needs plain HTTP.
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Behind a TLS-terminating reverse proxy, TRUSTED_PROXY=1 believes its X-Forwarded-Proto
# (is this HTTPS?) and X-Forwarded-For (the address login throttling counts). Otherwise
# the headers are whatever the client sent, and ignored: anyone could skip the HTTPS
# redirect by sending X-Forwarded-Proto: https to gunicorn directly.
TRUSTED_PROXY = _bool("TRUSTED_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY else None
SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = _bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = _int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Sent on every response by dashboard.security.ContentSecurityPolicyMiddleware. The pages
# (and Django's admin) use no inline script or style attribute: everything from this site.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

# django-q2, ORM broker by default (Q_BROKER below: no extra service). The reconcile task
# finishes in seconds (each HTTP call has a 10 s timeout); `retry` must exceed `timeout` or
# django-q2 re-delivers a task that is still running (a second worker would then race the
# first).
Q_TIMEOUT = _int("Q_TIMEOUT", default=120, minimum=1)
Q_RETRY = _int("Q_RETRY", default=180, minimum=2)
if Q_TIMEOUT >= Q_RETRY:
    raise ImproperlyConfigured("environment variable Q_TIMEOUT must be lower than Q_RETRY")
Q_CLUSTER = {
    "name": "teleportbridge",
    "orm": "default",
    "workers": _int("Q_WORKERS", default=2, minimum=1),
    "timeout": Q_TIMEOUT,
    "retry": Q_RETRY,
    # Our own backoff reschedules failed deliveries; django-q2 re-delivery is only a
    # safety net for a worker that died mid-task.
    "max_attempts": 3,
    "ack_failures": True,
    # Only failures are kept as results: saving (and pruning) a success row per task was
    # ~17% of a burst's throughput, and nothing reads them (the outbox is the record).
    "save_limit": -1,
    # Push hand-off (bridge.queue_broker): an enqueue wakes the pusher at once; `poll` is
    # only the fallback pace for a lost wake-up, so idle costs one query per Q_POLL.
    "broker_class": "bridge.queue_broker.PushORM",
    "poll": _seconds("Q_POLL", default=5.0),
    # Tasks the pusher claims per query when several are waiting (a burst).
    "bulk": _int("Q_BULK", default=4, minimum=1),
    # The sentinel's guard loop saves its status and checks timeouts each cycle (0.5 s by
    # default: most of the idle tree's CPU after the pusher stopped polling); Q_TIMEOUT
    # is enforced to within this. No django-q2 schedules are used: no scheduler queries.
    "guard_cycle": 2.0,
    "scheduler": False,
    # A re-forked worker pays imports, TLS and lookups again (~60 ms on its first task);
    # the code has no known leak to recycle away.
    "recycle": _int("Q_RECYCLE", default=100000, minimum=1),
    "catch_up": False,
    "label": "Django Q2",
    "sync": _bool("Q_SYNC", default=False),
}


def _redis_url() -> str:
    """REDIS_URL, checked enough that a typo stops start-up with one line. Never echoes
    the URL or any part of it: it may carry a password."""
    from urllib.parse import urlsplit

    raw = env.str("REDIS_URL", default="").strip()
    if not raw:
        raise _invalid("REDIS_URL", "not set, and Q_BROKER=redis needs it (redis://host:6379/0)")
    try:
        parts = urlsplit(raw)
        port = parts.port  # ValueError when not a number in 0-65535
    except ValueError:
        raise _invalid("REDIS_URL", "not a valid URL (redis://[:password@]host:port/db)") from None
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise _invalid("REDIS_URL", "use a redis://, rediss:// or unix:// URL")
    if parts.scheme != "unix" and (not parts.hostname or port == 0):
        raise _invalid("REDIS_URL", "no host (or port 0): write redis://host:6379/0")
    db = parts.path.strip("/") if parts.scheme != "unix" else ""
    if db and not db.isdigit():
        raise _invalid("REDIS_URL", "the path must be a database number (redis://host:6379/0)")
    try:
        # Whatever else redis-py would refuse (query options), now rather than at the
        # first enqueue. Its messages may quote the URL: only ours are shown.
        from redis.connection import parse_url

        parse_url(raw)
    except (ValueError, TypeError):
        raise _invalid("REDIS_URL", "redis-py cannot read it (check its query options)") from None
    return raw


# The queue's broker. `database` (default): django-q2's ORM broker on our own database,
# enqueued in the caller's transaction. `redis`: for scale-out (README "Scale-out"), the
# queue in Redis at REDIS_URL; enqueued after the commit, and a task a dying worker held
# is lost to the queue but not to the outbox (the sweeper queues its posts again).
Q_BROKER = env.str("Q_BROKER", default="").strip().lower() or "database"
if Q_BROKER not in {"database", "redis"}:
    raise _invalid("Q_BROKER", f"{Q_BROKER[:40]!r} (use database or redis)")
if Q_BROKER == "redis":
    # Several bridges on one Redis: each needs its own queue (or a db number in REDIS_URL).
    # Also the salt that signs the tasks: every process of one bridge must agree.
    _queue = env.str("REDIS_QUEUE", default="teleportbridge").strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", _queue):
        raise _invalid("REDIS_QUEUE", "use 1-64 letters, digits, '_', '.' or '-'")
    del Q_CLUSTER["orm"]  # no ORM queue: nothing may read or write the task table
    Q_CLUSTER.update(
        {
            "name": _queue,
            "redis": _redis_url(),  # a string: redis-py's from_url (bridge.redis_broker)
            # One connection pool per process, not one connection per enqueue.
            "broker_class": "bridge.redis_broker.PooledRedis",
        }
    )
    del Q_CLUSTER["poll"]  # the Redis broker waits in BLPOP: a push by nature

# Audit correlation: a review this long after the notification is flagged as late, and a
# request with recipients but no post this long after we saw it counts as failed.
AUDIT_LATE_REVIEW_SECONDS = _int("AUDIT_LATE_REVIEW_SECONDS", default=24 * 3600, minimum=1)
AUDIT_NOTIFY_DEADLINE_SECONDS = _int("AUDIT_NOTIFY_DEADLINE_SECONDS", default=600, minimum=1)
# Delivery: attempts before a post is marked failed, and how long a SENDING claim holds.
NOTIFY_MAX_ATTEMPTS = _int("NOTIFY_MAX_ATTEMPTS", default=15, minimum=1)
NOTIFY_SENDING_LEASE_SECONDS = _int("NOTIFY_SENDING_LEASE_SECONDS", default=60, minimum=1)
# A request may name any number of suggested reviewers; each costs Mattermost lookups and a
# DM. The first N are notified, the rest recorded on the plan as skipped.
NOTIFY_MAX_SUGGESTED_REVIEWERS = _int("NOTIFY_MAX_SUGGESTED_REVIEWERS", default=20, minimum=0)
# Security alerts ([audit] alert_channel): how often runwatcher looks for new anomalies (a
# correlation over the last 24 hours, so not every few seconds).
ALERT_SCAN_SECONDS = _int("ALERT_SCAN_SECONDS", default=30, minimum=1)

# Access monitoring rules: the IANA timezone `clock_between` uses ("" = UTC, as upstream's
# notification plugins, which pass no timezone), and how long a user's traits are reused.
AMR_TIMEZONE = env.str("AMR_TIMEZONE", default="").strip()
if AMR_TIMEZONE and AMR_TIMEZONE != "UTC":
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(AMR_TIMEZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _invalid("AMR_TIMEZONE", f"{AMR_TIMEZONE!r} is not a known IANA timezone") from None
AMR_TRAITS_CACHE_SECONDS = _seconds("AMR_TRAITS_CACHE_SECONDS", default=60.0)

# Approve/deny from Mattermost (README "Approve from Mattermost"). Off unless both switches
# are on: the second one acknowledges that a review from chat skips the human's MFA and
# Device Trust. Keys are secrets: "kid:base64url-key,kid2:..." (>= 32 bytes each), or a file
# holding that text (REVIEW_SIGNING_KEYS_FILE); the first kid signs, all of them verify.
REVIEW_FROM_CHAT_ENABLED = _bool("REVIEW_FROM_CHAT_ENABLED", default=False)
REVIEW_ACCEPT_MFA_BYPASS = _bool("REVIEW_ACCEPT_MFA_BYPASS", default=False)
REVIEW_ACTION_URL = env.str("REVIEW_ACTION_URL", default="").strip()
_review_keys_file = env.str("REVIEW_SIGNING_KEYS_FILE", default="").strip()
REVIEW_SIGNING_KEYS = (
    _read_secret_file(_review_keys_file, "REVIEW_SIGNING_KEYS_FILE")
    if _review_keys_file
    else env.str("REVIEW_SIGNING_KEYS", default="")
)
REVIEW_MM_USER_ID_TRAIT = env.str("REVIEW_MM_USER_ID_TRAIT", default="mattermost_uid").strip()
REVIEW_EMAIL_FALLBACK = env.str("REVIEW_EMAIL_FALLBACK", default="never").strip()
REVIEW_ACTION_TIMEOUT_S = _seconds("REVIEW_ACTION_TIMEOUT_S", default=10.0)
REVIEW_BUTTON_TTL_S = _int("REVIEW_BUTTON_TTL_S", default=24 * 3600, minimum=300)
REVIEW_VERIFY_TRIGGER_ID = _bool("REVIEW_VERIFY_TRIGGER_ID", default=True)
REVIEW_MIN_SERVER_VERSION = env.str("REVIEW_MIN_SERVER_VERSION", default="18.11.0").strip()
# Clicks per window: "count/seconds".
REVIEW_RATE_PER_USER = env.str("REVIEW_RATE_PER_USER", default="5/30").strip()
REVIEW_RATE_PER_REQUEST = env.str("REVIEW_RATE_PER_REQUEST", default="20/60").strip()
REVIEW_RATE_GLOBAL = env.str("REVIEW_RATE_GLOBAL", default="120/60").strip()
REVIEW_MAX_CONCURRENT = _int("REVIEW_MAX_CONCURRENT", default=4, minimum=1)

# runwatcher's graceful stop (SIGTERM/SIGINT) gets this long before it is forced, as the
# Go plugin's 15 s; keep it below your supervisor's kill timeout.
FORCED_STOP_SECONDS = _seconds("FORCED_STOP_SECONDS", default=15.0)
# The plugin's own switch, kept raw: runwatcher parses it with Go's bool rules.
TELEPORT_PLUGIN_FAIL_FAST = env.str("TELEPORT_PLUGIN_FAIL_FAST", default="")

# Where `[log] output = "syslog"` sends: a Unix socket path (default /dev/log) or host:port
# (UDP).
SYSLOG_ADDRESS = env.str("SYSLOG_ADDRESS", default="/dev/log").strip() or "/dev/log"

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").strip().upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise _invalid("LOG_LEVEL", f"{LOG_LEVEL!r} (use DEBUG, INFO, WARNING, ERROR or CRITICAL)")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "common.request_log.RequestIdFilter"}},
    "formatters": {
        # One line per record, control characters escaped (common.request_log).
        "line": {"()": "common.request_log.TextFormatter"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "line",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django-q": {"level": "WARNING"}},  # django-q2's logger name
}
