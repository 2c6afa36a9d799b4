"""Connections made to the address that was checked: one DNS answer per connection, checked, then used.

Why: a guard that resolves a name, finds it public, and lets the HTTP client resolve it again can
be fooled by a DNS server that answers a public address first and ``127.0.0.1`` the second time
(DNS rebinding). Here the connection's own lookup is the one checked, and the socket connects to
exactly the addresses that passed; TLS still verifies (and sends SNI for) the name, and the
``Host`` header is the URL's. Two clients, one lookup (``lookup``):

- ``PinnedResolver``: the resolver of the job's aiohttp sessions (models, selector services,
  executed operations, LangChain calls). aiohttp connects to what its resolver returns.
- ``pinned_transport``: an httpx transport for the document fetcher (manifests, OpenAPI, ``$ref``),
  whose network backend connects to the checked address of each hop.

``permutate serve`` sets ``ADDRESS_CHECK`` for its jobs and gives its fetcher a check; the CLI and
notebooks set nothing and connect as usual.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

__all__ = ["ADDRESS_CHECK", "AddressCheck", "AddressRefused", "PinnedResolver", "lookup", "checked",
           "pinned_transport", "resolver"]

#: ``check(host, port, addresses)`` returns None to allow the connection, else the reason it is refused.
AddressCheck = Callable[[str, int, list[str]], str | None]
ADDRESS_CHECK: ContextVar[AddressCheck | None] = ContextVar("permutate_address_check", default=None)


class AddressRefused(OSError):
    """A host whose addresses the check refused (an ``OSError``: clients report it as a failed connection).

    The reason is the ``strerror`` too: aiohttp's connection error shows only that."""

    def __init__(self, reason: str) -> None:
        super().__init__(errno.EACCES, reason)

    def __str__(self) -> str:
        return str(self.strerror)


def lookup(host: str, port: int, family: int = socket.AF_UNSPEC) -> list[tuple[int, str]]:
    """``(family, address)`` for each TCP address of ``host``, in the resolver's order: the one DNS boundary."""
    infos = socket.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    seen: dict[tuple[int, str], None] = {}
    for fam, _type, _proto, _name, sockaddr in infos:
        seen[(int(fam), str(sockaddr[0]).split("%", 1)[0])] = None
    return list(seen)


def checked(host: str, port: int, found: Iterable[tuple[int, str]], check: AddressCheck) -> list[tuple[int, str]]:
    """``found`` when ``check`` allows all of it; else ``AddressRefused`` with the check's reason."""
    found = list(found)
    if not found:
        raise AddressRefused(f"{host} does not resolve")
    problem = check(host, port, [address for _, address in found])
    if problem is not None:
        raise AddressRefused(problem)
    return found


def resolver(check: AddressCheck | None = None) -> PinnedResolver | None:
    """A ``PinnedResolver`` for ``check`` (by default the context's ``ADDRESS_CHECK``); None when there is none."""
    check = check or ADDRESS_CHECK.get()
    return PinnedResolver(check) if check is not None else None


class PinnedResolver(AbstractResolver):
    """An aiohttp resolver that answers only checked addresses (aiohttp connects to what it answers)."""

    def __init__(self, check: AddressCheck) -> None:
        self._check = check

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """Look ``host`` up and answer only the addresses the check allows; ``AddressRefused`` otherwise."""
        found = await asyncio.to_thread(lookup, host, port, family)
        return [ResolveResult(hostname=host, host=address, port=port, family=fam, proto=0,
                              flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)
                for fam, address in checked(host, port, found, self._check)]

    async def close(self) -> None:
        """Nothing to close: lookups run on worker threads."""
        return None


def pinned_transport(check: AddressCheck, **kwargs: Any) -> Any:
    """An ``httpx.HTTPTransport`` whose connections go to the checked addresses of each host."""
    import httpcore
    import httpx

    class PinnedBackend(httpcore.SyncBackend):
        def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                        socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
            try:
                found = checked(host, port, lookup(host, port), check)
            except OSError as exc:
                raise httpcore.ConnectError(str(exc)) from None
            for _, address in found[:-1]:  # each checked address in turn, as a plain connect would
                try:
                    return super().connect_tcp(address, port, timeout, local_address, socket_options)
                except httpcore.ConnectError:
                    continue
            return super().connect_tcp(found[-1][1], port, timeout, local_address, socket_options)

    transport = httpx.HTTPTransport(**kwargs)
    # httpx has no public setting for the network backend; its pool (httpcore's) does.
    transport._pool._network_backend = PinnedBackend()
    return transport
