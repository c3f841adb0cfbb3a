"""SSH host addresses: `ssh://[user@]host[:port]`, parsed strictly.

A leaf module (the standard library and edgekd.errors only), so a target's `host` can be
checked where targets are loaded, long before anything connects (`parse_host`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgekd.errors import EdgeKDError


class RemoteError(EdgeKDError):
    """A remote host cannot be reached, refuses us, or times out."""


@dataclass(frozen=True)
class Host:
    user: str | None
    hostname: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"ssh://{self.user + '@' if self.user else ''}{host}:{self.port}"


_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")
_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*\.?")
_PORT = re.compile(r"[0-9]{1,5}")


def parse_host(url: str) -> Host:
    """ssh://[user@]host[:port], checked strictly: a user, host name (or IP address) and
    port, nothing else (no password, path, query or option-like names)."""
    if not isinstance(url, str) or not url.startswith("ssh://") or len(url) > 300:
        raise _bad_host(url)
    netloc = url[len("ssh://") :].removesuffix("/")
    user, at, hostport = netloc.rpartition("@")
    if hostport.startswith("["):  # [IPv6]:port
        host, close, rest = hostport[1:].partition("]")
        if not close or (rest and not rest.startswith(":")):
            raise _bad_host(url)
        port = rest[1:] if rest else None
    elif hostport.count(":") > 1:
        raise _bad_host(url)
    else:
        host, colon, port = hostport.partition(":")
        port = port if colon else None
    if (at and not _USER.fullmatch(user)) or not _valid_host(host):
        raise _bad_host(url)
    if port is not None and not (_PORT.fullmatch(port) and 1 <= int(port) <= 65535):
        raise _bad_host(url)
    return Host(user or None, host, int(port) if port else 22)


def _valid_host(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:  # a name; all-digit labels would be a malformed IPv4 address
        return bool(_HOSTNAME.fullmatch(host)) and not host.rstrip(".").replace(".", "").isdigit()


def _bad_host(url) -> RemoteError:
    shown = repr(url)[:120]
    return RemoteError(
        f"host {shown} is not an SSH address. Write ssh://user@host or ssh://user@host:port "
        "(a user name, a host name or IP address, a port in 1..65535; no password or path), "
        "or 'local' to measure on this machine."
    )
