"""Fetch manifests and OpenAPI documents from files, mirrors, a disk cache or the network.

Evaluations must be reproducible and run in air-gapped places, so an http(s) location is
looked up in this order: the user's URL map (a local mirror, never the network), a fresh
disk-cache entry, the network, the snapshots bundled with the package, a stale cache entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import time
import warnings
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from ...errors import PermutateNote, PermutateWarning, PluginLoadError, RequestError
from ...settings import settings
from ..context import default_context
from ..request.locations import is_http_url, local_path
from ..request.safe_load import SAFE_LOADER, load_json, load_yaml, read_text
from ..store.paths import permutate_home

if TYPE_CHECKING:
    import httpx

__all__ = [
    "FETCH_DEADLINE",
    "UrlMap",
    "default_url_map",
    "bundled_url_map",
    "Fetcher",
    "parse_document",
    "BUNDLED_URL_MAP",
    "CACHE_MAX_AGE",
]

log = logging.getLogger("permutate_nb")

#: The snapshots shipped with the package; tests may point this elsewhere.
BUNDLED_URL_MAP = Path(__file__).resolve().parents[2] / "examples" / "snapshots" / "url_map.yaml"
#: A cache entry younger than this is used without asking the network.
CACHE_MAX_AGE = 24 * 3600.0
#: Seconds one document fetch may take in all (connect, redirects, every read): a server that
#: drips a byte a second must not hold a planning thread for longer.
FETCH_DEADLINE = 30.0
#: Redirects followed per fetch; each hop is checked (``Fetcher.check_hop``) before it is asked.
MAX_REDIRECTS = 5



class UrlMap:
    """Maps URL prefixes to local files or folders: a mirror for offline use."""

    def __init__(self, mapping: Mapping[str, str | Path] | None = None, base_dir: Path | None = None) -> None:
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        self._entries: dict[str, Path] = {}
        for prefix, target in (mapping or {}).items():
            if not isinstance(prefix, str) or not isinstance(target, (str, Path)):
                raise PluginLoadError(f"URL map entry {prefix!r}: {target!r} must map a URL string to a path string")
            path = Path(target).expanduser()
            self._entries[prefix] = path if path.is_absolute() else (base / path)

    @classmethod
    def from_file(cls, path: Path) -> UrlMap:
        """Read a YAML ``{url_prefix: path}`` file; relative paths are relative to that file."""
        path = Path(path).expanduser()
        try:
            text = read_text(path, "URL map")
            data = load_yaml(text, str(path)) if text.strip() else {}
        except RequestError as exc:
            raise PluginLoadError(str(exc)) from None
        if not isinstance(data, dict):
            raise PluginLoadError(f"URL map {path}: expected a mapping of URL prefixes to paths")
        return cls(data, base_dir=path.resolve().parent)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"UrlMap({ {k: str(v) for k, v in self._entries.items()} !r})"

    def items(self) -> list[tuple[str, Path]]:
        """The map's (URL prefix, local path) entries, as given."""
        return list(self._entries.items())

    def lookup(self, url: str) -> Path | None:
        """The local file for ``url``: exact file entries, else the longest folder prefix holding it."""
        url = url.split("#", 1)[0]
        for prefix in sorted(self._entries, key=len, reverse=True):
            target = self._entries[prefix]
            if target.is_dir():
                if not url.startswith(prefix):
                    continue
                rest = url[len(prefix):].split("?", 1)[0]
                if not prefix.endswith("/"):
                    if rest and not rest.startswith("/"):
                        continue
                rest = unquote(rest.lstrip("/"))
                if not rest:
                    continue
                candidate = (target / rest).resolve()
                if candidate.is_file() and candidate.is_relative_to(target.resolve()):
                    return candidate
            elif url == prefix or url.rstrip("/") == prefix.rstrip("/"):
                return target
        return None

    def merged(self, other: UrlMap) -> UrlMap:
        """A new map with ``other``'s entries added (they win on equal prefixes)."""
        result = UrlMap()
        result._entries = {**self._entries, **other._entries}
        return result


def default_url_map(extra: Mapping[str, str | Path] | None = None, base_dir: Path | None = None) -> UrlMap:
    """The user's mirror: the YAML file named by ``PERMUTATE_URL_MAP`` plus ``extra`` (which wins)."""
    result = UrlMap()
    path = settings().url_map
    if path is not None:
        result = UrlMap.from_file(path)
    if extra:
        result = result.merged(UrlMap(extra, base_dir=base_dir))
    return result


@lru_cache(maxsize=4)
def _bundled(path: Path) -> UrlMap:
    return UrlMap.from_file(path) if path.is_file() else UrlMap()


def bundled_url_map() -> UrlMap:
    """Snapshots shipped with the package, used only when the network fails."""
    return _bundled(BUNDLED_URL_MAP)


def _default_cache_dir() -> Path:
    return permutate_home() / "cache" / "http"


def _decode(data: bytes, charset: str | None = None) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode(charset or "latin-1", errors="replace")


class Fetcher:
    """Reads local paths, file:// and http(s) locations; see the module doc for the http order."""

    def __init__(
        self,
        url_map: UrlMap | None = None,
        *,
        cache_dir: Path | None = None,
        timeout: float = 15.0,
        max_bytes: int = 20_000_000,
        fallbacks: set[str] | None = None,
        deadline: float = FETCH_DEADLINE,
    ) -> None:
        user_map = default_url_map()
        self.url_map = user_map.merged(url_map) if url_map is not None else user_map
        self.cache_dir = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.deadline = deadline
        # URLs that could not be fetched and were served from a bundled snapshot in this process (the
        # context's set): later loads use the snapshot straight away (no second network wait or warning).
        self.fallbacks = default_context().fallbacks if fallbacks is None else fallbacks

    def fetch_text(self, location: str) -> tuple[str, str]:
        """Return ``(text, resolved location)``: absolute path for files, the URL unchanged otherwise."""
        location = location.strip()
        if not is_http_url(location):
            path = local_path(location)
            return self._read_file(path, location), str(path)
        mirrored = self.url_map.lookup(location)
        if mirrored is not None:
            return self._read_file(mirrored, location), location
        cache_file = self.cache_dir / hashlib.sha256(location.encode("utf-8")).hexdigest()
        age = _age(cache_file)
        if age is not None and age < CACHE_MAX_AGE:
            return _decode(cache_file.read_bytes()), location
        snapshot = bundled_url_map().lookup(location)
        if location in self.fallbacks and snapshot is not None:
            return self._read_file(snapshot, location), location  # warned once already in this process
        try:
            data, charset = self._download(location)
        except PluginLoadError as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            if snapshot is not None and snapshot.is_file():
                warnings.warn(
                    f"could not fetch {location} ({reason}); using the bundled snapshot", PermutateNote, stacklevel=2
                )
                self.fallbacks.add(location)
                log.info("%s: served from the bundled snapshot %s (%s)", location, snapshot, reason)
                return self._read_file(snapshot, location), location
            if age is not None:
                log.info("%s: served from the cache %s (%s)", location, cache_file, reason)
                when = datetime.fromtimestamp(cache_file.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
                warnings.warn(
                    f"could not fetch {location} ({reason}); using a cached copy from {when}",
                    PermutateWarning,
                    stacklevel=2,
                )
                return _decode(cache_file.read_bytes()), location
            raise
        self._store(cache_file, data)
        return _decode(data, charset), location

    def check_hop(self, url: str) -> None:
        """Called before every request of a download, the first and each redirect; the server's
        fetcher refuses private addresses here. Raises ``PluginLoadError`` to refuse."""

    def transport(self) -> httpx.HTTPTransport | None:
        """The downloads' httpx transport; None for httpx's own. The server's pins each hop's checked address."""
        return None

    def _read_file(self, path: Path, location: str) -> str:
        """A regular file, at most ``max_bytes`` (the same cap as a download): ``/dev/zero`` or a FIFO is refused."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
            with os.fdopen(fd, "rb") as handle:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise PluginLoadError(f"cannot read {path}: not a regular file")
                data = handle.read(self.max_bytes + 1)
            if len(data) > self.max_bytes:
                raise PluginLoadError(f"cannot read {path}: larger than the {self.max_bytes} byte limit")
            return _decode(data)
        except FileNotFoundError:
            where = path if str(path) == location else f"{path} (for {location})"
            raise PluginLoadError(f"file not found: {where}") from None
        except OSError as exc:
            raise PluginLoadError(f"cannot read {path}: {exc.strerror or exc}") from None

    def _download(self, url: str) -> tuple[bytes, str | None]:
        """GET ``url`` within ``deadline`` seconds in all, following redirects by hand so that
        ``check_hop`` sees every address before it is asked."""
        import httpx  # only a document that is fetched needs it

        ends = time.monotonic() + self.deadline
        try:
            with httpx.Client(timeout=min(self.timeout, self.deadline), follow_redirects=False,
                              transport=self.transport()) as client:
                for _ in range(MAX_REDIRECTS + 1):
                    self.check_hop(url)
                    with client.stream("GET", url, headers={"Accept": "application/json, application/yaml, */*"}) as resp:
                        if resp.is_redirect and "location" in resp.headers:
                            url = str(resp.url.join(resp.headers["location"]))
                            continue
                        return self._body(resp, url, ends)
                raise _error(f"cannot fetch {url}: more than {MAX_REDIRECTS} redirects", "too many redirects")
        except httpx.TimeoutException:
            raise _error(f"cannot fetch {url}: timed out after {self.timeout:g} s", "timed out") from None
        except httpx.HTTPError as exc:
            reason = _short_reason(exc)
            raise _error(f"cannot fetch {url}: {reason}", reason) from None

    def _body(self, resp: httpx.Response, url: str, ends: float) -> tuple[bytes, str | None]:
        if not 200 <= resp.status_code < 300:
            raise _error(f"cannot fetch {url}: HTTP {resp.status_code}", f"HTTP {resp.status_code}")
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_big(url)
        chunks, size = [], 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_big(url)
            if time.monotonic() > ends:
                raise _error(f"cannot fetch {url}: not complete after {self.deadline:g} s", "too slow")
            chunks.append(chunk)
        return b"".join(chunks), resp.charset_encoding

    def _too_big(self, url: str) -> PluginLoadError:
        return _error(f"cannot fetch {url}: larger than the {self.max_bytes} byte limit", "too large")

    def _store(self, cache_file: Path, data: bytes) -> None:
        """Best effort: a read-only home must not stop an evaluation."""
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, cache_file)
        except OSError:
            pass


def _age(path: Path) -> float | None:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None


def _error(message: str, reason: str) -> PluginLoadError:
    exc = PluginLoadError(message)
    exc.reason = reason  # type: ignore[attr-defined]  # short form for the fallback warning
    return exc


def _short_reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


# --------------------------------------------------------------------------- parsing


class _DocLoader(SAFE_LOADER):
    """Safe loader that keeps timestamps as strings so documents stay JSON-serialisable."""


_DocLoader.add_constructor("tag:yaml.org,2002:timestamp", _DocLoader.construct_yaml_str)


def parse_document(text: str, location: str) -> dict:
    """Parse JSON (when it looks like JSON) or YAML; errors name the location, line and column."""
    text = text.lstrip("\ufeff")
    stripped = text.lstrip()
    json_error: json.JSONDecodeError | None = None
    data: object = None
    try:
        if stripped[:1] in ("{", "["):
            try:
                data = load_json(text, location, strict=False)  # a third party's document, as it is
            except json.JSONDecodeError as exc:
                json_error = exc
        if json_error is not None or stripped[:1] not in ("{", "["):
            data = load_yaml(text, location, _DocLoader)
    except RequestError as exc:  # invalid, nested too deep, expands too far, a duplicate key
        if json_error is not None:
            raise PluginLoadError(
                f"{location}: invalid JSON at line {json_error.lineno}, column {json_error.colno}: {json_error.msg}"
            ) from None
        raise PluginLoadError(str(exc)) from None
    if not isinstance(data, dict):
        kind = "an empty document" if data is None else f"a {type(data).__name__}"
        raise PluginLoadError(f"{location}: expected a JSON/YAML object at the top level, got {kind}")
    return data
