"""Fetching: local files, URL-map mirrors, the disk cache, a local HTTP server, snapshots."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from permutate_nb.core.plugins import fetch
from permutate_nb.core.plugins.fetch import Fetcher, UrlMap, default_url_map, parse_document
from permutate_nb.errors import PermutateNote, PermutateWarning, PluginLoadError

SPEC = '{"openapi": "3.0.1", "info": {"title": "T", "version": "1"}, "paths": {}}'


class _Server:
    """A tiny HTTP server on 127.0.0.1: ``routes[path] = (status, body, headers)``."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                server.requests.append(self.path)
                status, body, headers = server.routes.get(self.path, (404, b"not here", {}))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in headers and not headers.get("X-No-Length"):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def route(self, path: str, body: str | bytes, status: int = 200, **headers: str) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = (status, data, {k.replace("_", "-"): v for k, v in headers.items()})
        return self.url + path


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


@pytest.fixture
def dead_url() -> str:
    """A 127.0.0.1 port nobody listens on: connection refused, instantly."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def _no_user_map(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERMUTATE_URL_MAP", raising=False)


def _fetcher(tmp_path: Path, **kwargs: object) -> Fetcher:
    return Fetcher(cache_dir=tmp_path / "cache", timeout=5.0, **kwargs)  # type: ignore[arg-type]


def _cache_file(tmp_path: Path, url: str) -> Path:
    return tmp_path / "cache" / hashlib.sha256(url.encode()).hexdigest()


# --------------------------------------------------------------------------- local files

def test_local_path_and_file_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "spec.json"
    doc.write_text(SPEC, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    text, resolved = _fetcher(tmp_path).fetch_text("spec.json")
    assert text == SPEC and resolved == str(doc.resolve())
    text, resolved = _fetcher(tmp_path).fetch_text(doc.as_uri())
    assert text == SPEC and resolved == str(doc.resolve())


def test_missing_local_file_names_path(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="nope.json"):
        _fetcher(tmp_path).fetch_text(str(tmp_path / "nope.json"))


def test_bom_is_dropped(tmp_path: Path) -> None:
    doc = tmp_path / "bom.json"
    doc.write_bytes(b"\xef\xbb\xbf" + SPEC.encode())
    assert _fetcher(tmp_path).fetch_text(str(doc))[0] == SPEC


# --------------------------------------------------------------------------- http

def test_http_200_is_fetched_and_cached(tmp_path: Path, server: _Server) -> None:
    url = server.route("/openapi.json", SPEC, Content_Type="application/json")
    text, resolved = _fetcher(tmp_path).fetch_text(url)
    assert (text, resolved) == (SPEC, url)
    assert _cache_file(tmp_path, url).read_text() == SPEC
    # A second fetcher with the same cache dir does not ask the server again.
    assert _fetcher(tmp_path).fetch_text(url)[0] == SPEC
    assert server.requests == ["/openapi.json"]


def test_http_404_names_url_and_status(tmp_path: Path, server: _Server) -> None:
    url = server.route("/missing.json", "gone", status=404)
    with pytest.raises(PluginLoadError) as info:
        _fetcher(tmp_path).fetch_text(url)
    assert url in str(info.value) and "404" in str(info.value)
    assert "\n" not in str(info.value)
    assert not _cache_file(tmp_path, url).exists()


def test_redirect_is_followed(tmp_path: Path, server: _Server) -> None:
    server.route("/new.json", SPEC)
    url = server.route("/old.json", "", status=302, Location="/new.json")
    assert _fetcher(tmp_path).fetch_text(url) == (SPEC, url)


def test_size_limit_with_and_without_content_length(tmp_path: Path, server: _Server) -> None:
    big = "x" * 5000
    declared = server.route("/big.json", big)
    streamed = server.route("/stream.json", big, X_No_Length="1")
    for url in (declared, streamed):
        with pytest.raises(PluginLoadError, match="limit") as info:
            _fetcher(tmp_path, max_bytes=1000).fetch_text(url)
        assert url in str(info.value)
    assert _fetcher(tmp_path, max_bytes=10_000).fetch_text(streamed)[0] == big


def test_connection_error_names_url(tmp_path: Path, dead_url: str) -> None:
    url = dead_url + "/openapi.json"
    with pytest.raises(PluginLoadError, match="cannot fetch " + url):
        _fetcher(tmp_path).fetch_text(url)


def test_url_map_mirror_makes_no_request(tmp_path: Path, server: _Server) -> None:
    (tmp_path / "mirror" / "specs").mkdir(parents=True)
    (tmp_path / "mirror" / "specs" / "a.json").write_text(SPEC)
    (tmp_path / "one.yaml").write_text("openapi: 3.0.0\n")
    server.route("/specs/a.json", "from the network")
    url_map = UrlMap({server.url + "/specs/": "mirror/specs", server.url + "/one": "one.yaml"}, base_dir=tmp_path)
    fetcher = _fetcher(tmp_path, url_map=url_map)
    assert fetcher.fetch_text(server.url + "/specs/a.json") == (SPEC, server.url + "/specs/a.json")
    assert fetcher.fetch_text(server.url + "/one")[0] == "openapi: 3.0.0\n"
    assert server.requests == []
    # A folder entry without the file falls through to the network.
    server.route("/specs/b.json", "network b")
    assert fetcher.fetch_text(server.url + "/specs/b.json")[0] == "network b"


def test_env_url_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dead_url: str) -> None:
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "doc.json").write_text(SPEC)
    map_file = tmp_path / "maps" / "urls.yaml"
    map_file.write_text(f'"{dead_url}/doc.json": doc.json\n')
    monkeypatch.setenv("PERMUTATE_URL_MAP", str(map_file))
    assert _fetcher(tmp_path).fetch_text(dead_url + "/doc.json")[0] == SPEC
    assert default_url_map().lookup(dead_url + "/doc.json") == (tmp_path / "maps" / "doc.json").resolve()
    # extra entries win over the environment's
    other = tmp_path / "other.json"
    other.write_text("{}")
    assert default_url_map({dead_url + "/doc.json": str(other)}).lookup(dead_url + "/doc.json") == other


def test_missing_mirror_file_is_an_error(tmp_path: Path, dead_url: str) -> None:
    fetcher = _fetcher(tmp_path, url_map=UrlMap({dead_url + "/x.json": tmp_path / "absent.json"}))
    with pytest.raises(PluginLoadError, match="absent.json"):
        fetcher.fetch_text(dead_url + "/x.json")


def _snapshot_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, text: str) -> None:
    snap = tmp_path / "snapshots"
    snap.mkdir()
    (snap / "doc.json").write_text(text)
    (snap / "url_map.yaml").write_text(f'"{url}": doc.json\n')
    monkeypatch.setattr(fetch, "BUNDLED_URL_MAP", snap / "url_map.yaml")


def test_bundled_snapshot_when_fetch_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dead_url: str) -> None:
    url = dead_url + "/plugin.json"
    _snapshot_map(tmp_path, monkeypatch, url, SPEC)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _fetcher(tmp_path).fetch_text(url) == (SPEC, url)
    assert len(caught) == 1
    assert caught[0].category is PermutateNote  # expected offline: a quiet note, once
    message = str(caught[0].message)
    assert message.startswith(f"could not fetch {url} (") and message.endswith("); using the bundled snapshot")
    assert "\n" not in message


def test_bundled_snapshot_after_http_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: _Server) -> None:
    url = server.route("/down.json", "oops", status=503)
    _snapshot_map(tmp_path, monkeypatch, url, SPEC)
    with pytest.warns(PermutateWarning, match=r"\(HTTP 503\); using the bundled snapshot"):
        assert _fetcher(tmp_path).fetch_text(url)[0] == SPEC


def test_network_wins_over_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: _Server) -> None:
    url = server.route("/live.json", "live")
    _snapshot_map(tmp_path, monkeypatch, url, SPEC)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _fetcher(tmp_path).fetch_text(url)[0] == "live"


def test_real_bundled_map_covers_the_docs_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(self: Fetcher, url: str) -> tuple[bytes, str | None]:
        raise fetch._error(f"cannot fetch {url}: offline", "offline")

    monkeypatch.setattr(Fetcher, "_download", offline)
    urls = [
        "https://assistant-management-data.s3.amazonaws.com/Klarna_Shopping.json",
        "https://assistant-management-data.s3.amazonaws.com/Imprompt_Web_Search.json",
        "https://www.klarna.com/us/shopping/public/openai/v0/api-docs/",
        "https://ws.imprompt.ai/api/plugin/web-search/openapi.json",
    ]
    for url in urls:
        with pytest.warns(PermutateWarning, match="using the bundled snapshot"):
            text, resolved = _fetcher(tmp_path).fetch_text(url)
        assert resolved == url and isinstance(parse_document(text, url), dict)


def test_stale_cache_is_last_resort(tmp_path: Path, dead_url: str) -> None:
    url = dead_url + "/stale.json"
    cached = _cache_file(tmp_path, url)
    cached.parent.mkdir(parents=True)
    cached.write_text(SPEC)
    old = time.time() - 3 * 24 * 3600
    os.utime(cached, (old, old))
    with pytest.warns(PermutateWarning, match=r"could not fetch .*; using a cached copy from"):
        assert _fetcher(tmp_path).fetch_text(url) == (SPEC, url)


def test_stale_cache_is_refreshed(tmp_path: Path, server: _Server) -> None:
    url = server.route("/fresh.json", "new")
    cached = _cache_file(tmp_path, url)
    cached.parent.mkdir(parents=True)
    cached.write_text("old")
    old = time.time() - 2 * 24 * 3600
    os.utime(cached, (old, old))
    assert _fetcher(tmp_path).fetch_text(url)[0] == "new"
    assert cached.read_text() == "new" and server.requests == ["/fresh.json"]


def test_default_cache_dir_honours_permutate_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERMUTATE_HOME", str(tmp_path / "home"))
    assert Fetcher().cache_dir == tmp_path / "home" / "cache" / "http"


# --------------------------------------------------------------------------- UrlMap

def test_url_map_longest_prefix_and_exact(tmp_path: Path) -> None:
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deep" / "x.json").write_text("{}")
    (tmp_path / "b" / "x.json").write_text("{}")
    (tmp_path / "file.json").write_text("{}")
    url_map = UrlMap(
        {"https://h/": "a", "https://h/deep/": "b", "https://h/api-docs/": "file.json"}, base_dir=tmp_path
    )
    assert url_map.lookup("https://h/deep/x.json") == (tmp_path / "b" / "x.json").resolve()
    assert url_map.lookup("https://h/deep/x.json?v=1#frag") == (tmp_path / "b" / "x.json").resolve()
    assert url_map.lookup("https://h/api-docs/") == tmp_path / "file.json"
    assert url_map.lookup("https://h/api-docs") == tmp_path / "file.json"
    assert url_map.lookup("https://h/api-docs/more") is None
    assert url_map.lookup("https://h/../file.json") is None
    assert url_map.lookup("https://other/x.json") is None


def test_url_map_from_file_and_merged(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "map.yaml").write_text('"https://h/a.json": a.json\n"https://h/b.json": /abs/b.json\n')
    loaded = UrlMap.from_file(tmp_path / "sub" / "map.yaml")
    assert loaded.lookup("https://h/a.json") == tmp_path / "sub" / "a.json"
    assert loaded.lookup("https://h/b.json") == Path("/abs/b.json")
    merged = loaded.merged(UrlMap({"https://h/a.json": "/x/a.json"}))
    assert merged.lookup("https://h/a.json") == Path("/x/a.json")
    assert loaded.lookup("https://h/a.json") == tmp_path / "sub" / "a.json"


def test_url_map_file_errors(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="missing.yaml"):
        UrlMap.from_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(PluginLoadError, match="bad.yaml"):
        UrlMap.from_file(bad)


# --------------------------------------------------------------------------- parsing

def test_parse_json_and_yaml() -> None:
    assert parse_document(SPEC, "x.json")["openapi"] == "3.0.1"
    assert parse_document("openapi: 3.0.0\npaths: {}\n", "x.yaml") == {"openapi": "3.0.0", "paths": {}}
    # JSON-looking YAML (flow mapping) falls back to YAML
    assert parse_document("{a: 1}", "x.yaml") == {"a": 1}
    # timestamps stay strings so tool schemas stay JSON-serialisable
    assert parse_document("d: 2024-01-18\n", "x.yaml") == {"d": "2024-01-18"}


def test_parse_errors_name_location_line_and_column() -> None:
    with pytest.raises(PluginLoadError, match=r"^spec\.json: invalid JSON at line 3, column 1: Expecting"):
        parse_document('{\n  "a": [1, 2\n}', "spec.json")
    with pytest.raises(PluginLoadError, match=r"^spec\.yaml: invalid YAML at line 4, column 3: "):
        parse_document("a: 1\nb:\n  - x\n  y: [\n", "spec.yaml")


@pytest.mark.parametrize("text", ["[1, 2]", "- a\n- b\n", "just text", ""])
def test_non_mapping_documents_are_refused(text: str) -> None:
    with pytest.raises(PluginLoadError, match=r"^doc: expected a JSON/YAML object") as info:
        parse_document(text, "doc")
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- bounds: bytes, time, hops

def test_local_files_have_the_download_byte_cap(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="/dev/zero: not a regular file"):
        _fetcher(tmp_path).fetch_text("/dev/zero")
    big = tmp_path / "big.json"
    big.write_text("x" * 5000)
    with pytest.raises(PluginLoadError, match="limit"):
        _fetcher(tmp_path, max_bytes=1000).fetch_text(str(big))
    assert _fetcher(tmp_path, max_bytes=5000).fetch_text(str(big))[0] == "x" * 5000


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(PluginLoadError, match="not a regular file"):
        _fetcher(tmp_path).fetch_text(str(fifo))


def test_a_dripping_server_meets_the_overall_deadline(tmp_path: Path) -> None:
    class Drip(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass  # the client gave up: that is the point

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/drip.json"
        with pytest.raises(PluginLoadError, match="not complete after 0.5 s"):
            _fetcher(tmp_path, deadline=0.5).fetch_text(url)  # each read is well within the read timeout
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_every_redirect_hop_is_shown_to_check_hop(tmp_path: Path, server: _Server) -> None:
    server.route("/c.json", SPEC)
    server.route("/b.json", "", status=302, Location="/c.json")
    url = server.route("/a.json", "", status=301, Location="/b.json")
    seen: list[str] = []

    class Watching(Fetcher):
        def check_hop(self, hop: str) -> None:
            seen.append(hop)
            if hop.endswith("/c.json"):
                raise PluginLoadError(f"{hop}: refused")

    with pytest.raises(PluginLoadError, match="c.json: refused"):
        Watching(cache_dir=tmp_path / "cache", timeout=5.0).fetch_text(url)
    assert [hop.rsplit("/", 1)[1] for hop in seen] == ["a.json", "b.json", "c.json"]
    assert server.requests == ["/a.json", "/b.json"]  # the refused hop was never asked


def test_too_many_redirects_are_named(tmp_path: Path, server: _Server) -> None:
    url = server.route("/loop.json", "", status=302, Location="/loop.json")
    with pytest.raises(PluginLoadError, match="redirects"):
        _fetcher(tmp_path).fetch_text(url)
