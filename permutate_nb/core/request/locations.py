"""Plugin locations and operation URLs: resolving relative paths, comparing URLs fairly.

A plugin is identified by where its manifest lives; the same file must compare equal
however the request spelled it, so local paths become absolute and URLs are compared
with case-insensitive scheme/host and without a trailing slash.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from permutate_nb.errors import PluginLoadError

__all__ = ["is_url", "is_http_url", "local_path", "resolve_location", "resolve_reference", "check_reference",
           "normalise_url"]


def is_url(location: str) -> bool:
    """Any URL (http, https, file, ...), as opposed to a plain file path."""
    return location.startswith(("http://", "https://", "file://")) or "://" in location[:12]


def is_http_url(location: str) -> bool:
    """True for http(s) URLs, the only locations that go through mirrors and the cache."""
    return location[:8].lower().startswith(("http://", "https://"))


def local_path(location: str) -> Path:
    """The absolute path of a local location (plain path or file:// URL)."""
    if location[:7].lower() == "file://":
        parts = urlsplit(location)
        location = unquote(parts.path)
        if parts.netloc and parts.netloc != "localhost":
            location = f"//{parts.netloc}{location}"
    return Path(location).expanduser().resolve()


def resolve_location(location: str, base_dir: Path) -> str:
    """An absolute path for a local file (relative to ``base_dir``); URLs unchanged."""
    if is_url(location):
        return location
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    return str(path.resolve())


def resolve_reference(reference: str, relative_to: str) -> str:
    """Resolve ``reference`` (a URL or path) relative to a document's location."""
    reference = reference.strip()
    if is_url(reference):
        return reference
    if is_http_url(relative_to):
        return urljoin(relative_to, reference)
    candidate = Path(reference).expanduser()
    if candidate.is_absolute() and candidate.exists():
        return str(candidate.resolve())
    return str((local_path(relative_to).parent / reference.lstrip("/")).resolve())


def check_reference(referrer: str, target: str, what: str) -> None:
    """Refuse a network document that points at a local file (``file://``, a path).

    A manifest fetched over http(s) was written by someone else: if its ``api.url`` or a
    ``$ref`` could name ``file:///etc/passwd``, the file's content would go to the model.
    Local files stay reachable from local requests and local documents only.
    """
    if is_http_url(referrer) and not is_http_url(target):
        raise PluginLoadError(
            f"{referrer}: {what} {target!r} is not an http(s) URL; a document fetched over the network "
            "may only refer to network URLs (local files only from local requests and documents)")


def normalise_url(url: str) -> str:
    """Lower-case scheme and host, no trailing slash: for comparing URLs and plugin ids."""
    url = url.strip()
    if not is_url(url):
        return url.rstrip("/") or "/"
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))
