"""What a server is allowed to do: where it listens, its key, the folders and addresses requests may reach."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..core.executors.spec import ExecutorSpec, check_executor
from ..errors import ConfigurationError
from ..settings import settings as process_settings

__all__ = ["ServerSettings", "DEFAULT_PORT", "DEFAULT_MAX_BODY_MB"]

DEFAULT_PORT = 8989
DEFAULT_MAX_BODY_MB = 10.0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerSettings:
    """``api_key`` comes from ``PERMUTATE_API_KEY``; ``max_body_mb`` from ``--max-body-mb`` or ``PERMUTATE_MAX_BODY_MB``."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    allow_dirs: tuple[Path, ...] = ()
    allow_private_urls: bool = False
    api_key: str | None = field(default=None, repr=False)
    max_body_mb: float = DEFAULT_MAX_BODY_MB
    executor: ExecutorSpec | None = None  # where every job runs (--executor ray): the operator's choice, not a body's
    allow_mcp_commands: tuple[str, ...] = ()  # programs a request may start as MCP servers (--allow-mcp-command)
    allow_urls: tuple[str, ...] = ()  # URL prefixes a body may name whatever they resolve to (--allow-url)
    allow_key_envs: tuple[str, ...] = ()  # environment variables a body may name as api_key_env (--allow-key-env)
    allow_backends: tuple[str, ...] = ()  # modules whose classes a conversation may import as its backend (--allow-backend)

    @classmethod
    def from_env(cls, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, allow_dirs: list[str] | tuple[str, ...] = (),
                 allow_private_urls: bool = False, max_body_mb: float | None = None,
                 executor: ExecutorSpec | None = None, allow_urls: list[str] | tuple[str, ...] = (),
                 allow_key_envs: list[str] | tuple[str, ...] = (),
                 allow_mcp_commands: list[str] | tuple[str, ...] = (),
                 allow_backends: list[str] | tuple[str, ...] = ()) -> ServerSettings:
        """Settings from flags plus the environment; refuses what would be unsafe or unusable."""
        dirs = []
        for raw in allow_dirs:
            path = Path(raw).expanduser().resolve()
            if not path.is_dir():
                raise ConfigurationError(f"--allow-dir {raw}: not a folder")
            dirs.append(path)
        env = process_settings()
        if max_body_mb is None:
            max_body_mb = env.max_body_mb
        if max_body_mb <= 0:
            raise ConfigurationError("--max-body-mb must be greater than 0")
        check_executor(executor)
        urls = [*allow_urls, *env.allow_urls.split(",")]
        prefixes = tuple(dict.fromkeys(u.strip() for u in urls if u.strip()))
        for prefix in prefixes:
            if not prefix.lower().startswith(("http://", "https://")):
                raise ConfigurationError(f"--allow-url {prefix}: give an http(s) URL prefix, e.g. http://127.0.0.1:8000/v1")
        modules = tuple(dict.fromkeys(m.strip() for m in [*allow_backends, *env.allow_backends.split(",")] if m.strip()))
        for module in modules:
            if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", module):
                raise ConfigurationError(f"--allow-backend {module}: give a module's dotted name, e.g. mypackage.backends")
        for name in allow_key_envs:
            if name == "PERMUTATE_API_KEY":
                raise ConfigurationError("--allow-key-env PERMUTATE_API_KEY: that is the server's own key")
        host = host.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]  # --host "[::1]": the URL spelling of an IPv6 address
        settings = cls(host=host, port=port, allow_dirs=tuple(dirs), allow_private_urls=allow_private_urls,
                       api_key=env.api_key.get_secret_value() if env.api_key else None, max_body_mb=max_body_mb, executor=executor,
                       allow_urls=prefixes, allow_key_envs=tuple(dict.fromkeys(allow_key_envs)),
                       allow_mcp_commands=tuple(allow_mcp_commands), allow_backends=modules)
        if not settings.api_key and not _is_loopback(host):
            raise ConfigurationError(
                f"refusing to listen on {host} without an API key: set PERMUTATE_API_KEY, or bind 127.0.0.1")
        return settings
