"""Just enough semver to apply the plugin's minimum-server-version rule."""

from __future__ import annotations

import re

MIN_SERVER_VERSION = "6.1.0-beta.1"
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def parse(version: str) -> tuple[int, int, int, tuple[tuple[int, int | str], ...] | None]:
    """Return a sortable key; pre-releases sort before the release (None sorts last)."""
    m = _SEMVER.match(version.strip())
    if not m:
        raise ValueError(f"invalid semantic version {version!r}")
    pre = m.group(4)
    pre_key = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")) if pre else None
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), pre_key


def at_least(version: str, minimum: str) -> bool:
    a, b = parse(version), parse(minimum)
    if a[:3] != b[:3]:
        return a[:3] > b[:3]
    if a[3] is None or b[3] is None:
        return a[3] is None  # a release is newer than any of its pre-releases
    return a[3] >= b[3]
