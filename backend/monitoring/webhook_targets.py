"""Where webhooks may go: public addresses only, unless an admin allows a network (SSRF protection).

A watch's ``webhook_url`` is checked when the watch is saved (the host is resolved; every address it
resolves to must be allowed) and again at every delivery: before posting (resolved again: DNS may have
changed) and on the socket itself, against the address the connection actually reached (so a name
that re-resolves to 127.0.0.1 between the check and the connect is still refused). Redirects are
never followed (a 3xx answer is a failed attempt).

Refused, each with the rule named: loopback (127.0.0.0/8, ::1), private (10/8, 172.16/12, 192.168/16,
fc00::/7), link-local (169.254/16 - the cloud metadata address 169.254.169.254 -, fe80::/10), shared
address space (100.64/10), unspecified, multicast, reserved and any other address that is not globally
routable, and IPv6 addresses that wrap an IPv4 address (IPv4-mapped ``::ffff:0:0/96``, 6to4 ``2002::/16``,
Teredo ``2001::/32`` - its client address -, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``), judged by the
address they wrap, and the names ``localhost`` / ``*.localhost`` /
``metadata.google.internal``. ``PRISM_WEBHOOK_ALLOWED_NETWORKS`` (comma-separated addresses or CIDR
networks, e.g. ``10.20.0.0/16,127.0.0.1``) lets an on-premises office or a test receiver through.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from backend.settings import Settings

BLOCKED_NAMES = ("localhost", "metadata.google.internal", "metadata")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(OSError):
    """A webhook URL whose host is not allowed; the message names the address and the rule.

    An ``OSError`` so that, raised from a connection, urllib3/requests report it as a connection error."""


def parse_networks(text: str) -> list[Network]:
    """``"10.0.0.0/8, 127.0.0.1"`` -> networks; ``ValueError`` naming the bad entry."""
    networks = []
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or CIDR network") from None
    return networks


NAT64_NETWORKS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def wrapped(ip: IPAddress) -> tuple[str, ipaddress.IPv4Address] | None:
    """(kind, the IPv4 address) an IPv6 address carries and reaches (mapped, 6to4, Teredo, NAT64), or None."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    if ip.teredo is not None:
        return "Teredo", ip.teredo[1]
    if any(ip in net for net in NAT64_NETWORKS):
        return "NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def rule_for(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (``None`` when it is one); an IPv6 address wrapping an IPv4 one
    is judged by the IPv4 address it reaches."""
    inner = wrapped(ip)
    if inner is not None:
        kind, v4 = inner
        rule = rule_for(v4)
        return None if rule is None else f"{rule} ({kind} address wrapping {v4})"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (includes the cloud metadata address)"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip in ipaddress.ip_network("100.64.0.0/10"):
        return "shared address space (carrier-grade NAT)"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not globally routable"
    return None


def refusal(address: str, allowed: list[Network]) -> str | None:
    """The reason ``address`` may not receive webhooks, or ``None``."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    rule = rule_for(ip)
    if rule is None or any(ip.version == net.version and ip in net for net in allowed):
        return None
    return f"{ip} is {rule}; webhooks go to public addresses only (an admin may allow a network with " \
           "PRISM_WEBHOOK_ALLOWED_NETWORKS)"


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def check_url(url: str, settings: Settings, *, unresolvable_ok: bool) -> None:
    """Raise :class:`TargetRefused` when ``url``'s host is, or resolves to, an address that is not allowed.

    ``unresolvable_ok``: a name that does not resolve now passes (saving a watch: it is checked again at
    every delivery); at delivery it is refused."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise TargetRefused(f"{url!r} has no host")
    allowed = settings.webhook_allowed_network_list
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        if host in BLOCKED_NAMES or host.endswith(".localhost"):
            if any(net.version == 4 and ipaddress.ip_address("127.0.0.1") in net for net in allowed):
                return
            raise TargetRefused(f"host {host!r} is a local name; webhooks go to public addresses only")
        try:
            addresses = _resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
        except (socket.gaierror, UnicodeError, ValueError) as exc:
            if unresolvable_ok:
                return
            raise TargetRefused(f"host {host!r} does not resolve ({exc})") from None
    for address in addresses:
        reason = refusal(address, allowed)
        if reason:
            raise TargetRefused(f"host {host!r}: {reason}" if literal is None else reason)


# -- the connection-level check ------------------------------------------------------------------------
def _guarded(base, allowed: list[Network]):
    class Guarded(base):
        def _new_conn(self):
            sock = super()._new_conn()
            try:
                peer = sock.getpeername()[0]
            except OSError:   # pragma: no cover - not connected
                return sock
            reason = refusal(peer, allowed)
            if reason:
                sock.close()
                raise TargetRefused(f"connected to {reason}")
            return sock

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections refuse, after connecting, a peer address that is not allowed."""

    def __init__(self, allowed: list[Network], **kw):
        self._allowed = allowed
        super().__init__(max_retries=0, **kw)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        http = type("GuardedHTTPPool", (HTTPConnectionPool,),
                    {"ConnectionCls": _guarded(HTTPConnection, self._allowed)})
        https = type("GuardedHTTPSPool", (HTTPSConnectionPool,),
                     {"ConnectionCls": _guarded(HTTPSConnection, self._allowed)})
        self.poolmanager.pool_classes_by_scheme = {"http": http, "https": https}


def guarded_session(settings: Settings) -> requests.Session:
    session = requests.Session()
    session.trust_env = False   # a proxy from the environment would hide the real target
    adapter = GuardedAdapter(settings.webhook_allowed_network_list)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
