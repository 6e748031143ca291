"""Where a deployment without DATABASE_URL keeps its state: the data directory.

`teleport-mattermost start` on a machine that only has the TOML must work, so the
embedded SQLite database (and the generated secret key, see `generated_secret_key`) need
a home that does not depend on the current directory or on where pip put the code:

1. `$TELEPORT_MATTERMOST_DATA` if set (the Docker image and the systemd unit set it);
2. `/var/lib/teleport-mattermost-bridge` if it exists and is writable, or can be created
   (running as root, or systemd's `StateDirectory=`);
3. else `${XDG_STATE_HOME:-~/.local/state}/teleport-mattermost-bridge`.

Only the standard library: settings.py imports this before Django is configured.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

ENV = "TELEPORT_MATTERMOST_DATA"
SYSTEM_DIR = Path("/var/lib/teleport-mattermost-bridge")
SECRET_KEY_NAME = "secret_key"  # noqa: S105 (a file name)


class DataDirError(Exception):
    """One line naming the directory and what is wrong with it."""


def _writable(path: Path) -> bool:
    if path.exists():
        return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
    return os.access(path.parent, os.W_OK | os.X_OK)


def data_dir() -> Path:
    """The data directory, by the rules above (not created here)."""
    explicit = os.environ.get(ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    if _writable(SYSTEM_DIR):
        return SYSTEM_DIR
    state = os.environ.get("XDG_STATE_HOME", "").strip() or str(Path.home() / ".local" / "state")
    return Path(state) / "teleport-mattermost-bridge"


def ensure_data_dir() -> Path:
    """The data directory, created (mode 0700: it holds the database and a key)."""
    path = data_dir()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirError(
            f"data directory {path} cannot be created: {exc.strerror or exc} (set {ENV})"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise DataDirError(f"data directory {path} is not writable (set {ENV})")
    # mkdir's mode does not apply to a directory that already existed (an image volume, a
    # package's /var/lib entry): close it to others ourselves, or the database file created
    # next (0644 by umask) would be readable through it.
    if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
        path.chmod(0o700)
    return path


def sqlite_url() -> str:
    """DATABASE_URL's default: the embedded database in the data directory."""
    return f"sqlite:///{ensure_data_dir() / 'db.sqlite3'}"


def generated_secret_key() -> Path:
    """The path of a random key created once in the data directory, mode 0600.

    For `start` without SECRET_KEY: django-q2 signs every queued task with SECRET_KEY,
    and a key that changed at each restart would make the tasks queued before it
    unreadable (dropped with a "bad signature" error, re-queued only by the sweeper).
    Kept in the data directory, the key survives restarts and is shared by every process
    that uses this directory (`start`, `manage qcluster`). Never a public default: who
    can write the task table and knows the key can run code in the workers.

    Two processes starting at once: the key is written to a private temporary file and
    hard-linked into place, which fails if the name exists; the loser reads the winner's
    complete file.
    """
    directory = ensure_data_dir()
    path = directory / SECRET_KEY_NAME
    if path.exists():
        return path
    tmp = directory / f".{SECRET_KEY_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(50) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    except OSError as exc:
        raise DataDirError(
            f"data directory {directory}: cannot write {SECRET_KEY_NAME}: {exc.strerror or exc}"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return path
