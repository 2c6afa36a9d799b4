"""Plugin locations and operation URLs: resolving relative paths, comparing URLs fairly.

A plugin is identified by where its manifest lives; the same file must compare equal
however the request spelled it, so local paths become absolute and URLs are compared
with case-insensitive scheme/host and without a trailing slash.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["is_url", "resolve_location", "normalise_url"]


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://", "file://")) or "://" in location[:12]


def resolve_location(location: str, base_dir: Path) -> str:
    """An absolute path for a local file (relative to ``base_dir``); URLs unchanged."""
    if is_url(location):
        return location
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    return str(path.resolve())


def normalise_url(url: str) -> str:
    """Lower-case scheme and host, no trailing slash: for comparing URLs and plugin ids."""
    url = url.strip()
    if not is_url(url):
        return url.rstrip("/") or "/"
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))
