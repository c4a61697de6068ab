"""Callback URLs of webhook subscriptions: where the register may send, and the sending.

No server-side request forgery: a callback must be https (unless WEBHOOK_ALLOW_HTTP) and
every address its host resolves to must be public (not loopback, private, link-local,
multicast, reserved ... unless WEBHOOK_ALLOW_PRIVATE_NETWORKS). Checked when a subscription
is saved and again before every delivery, and the delivery connects to the very address
checked (the Host header and the TLS name stay the URL's host), so a name that resolves to a
public address when checked and to an internal one a moment later (DNS rebinding) reaches
nothing internal. Redirects are not followed: a 3xx is a failed attempt.
"""

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from django.conf import settings

USER_AGENT = "caseregister-webhooks/1"
MAX_RESPONSE_BYTES = 2048  # kept for the delivery log


class CallbackRefused(ValueError):
    """The URL may not be called (scheme, address) or cannot be resolved."""


def _refused_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check(url: str, *, unresolved_ok: bool = False) -> tuple[str, int, list[str]]:
    """(host, port, addresses) of a callback URL that may be called; CallbackRefused if not.

    ``unresolved_ok`` (when a subscription is saved): a name that does not resolve now is
    no reason to refuse it (the receiver's DNS may not be set up yet, or be down a moment);
    every delivery resolves and checks again, and an attempt that cannot is a failure that
    is retried and logged."""
    parts = urlsplit(url)
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed:
        raise CallbackRefused("The callback URL must use https.")
    if not parts.hostname:
        raise CallbackRefused("The callback URL has no host.")
    if parts.username or parts.password:
        raise CallbackRefused("The callback URL may not contain credentials.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise CallbackRefused("The callback URL has an invalid port.") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if unresolved_ok:
            return parts.hostname, port, []
        raise CallbackRefused(f"The host {parts.hostname} cannot be resolved.") from exc
    except UnicodeError as exc:
        raise CallbackRefused(f"The host {parts.hostname} is not a valid name.") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        refused = [address for address in addresses if _refused_address(address)]
        if refused:
            raise CallbackRefused(
                f"The callback URL resolves to a non-public address ({refused[0]}): loopback, "
                "private, link-local, multicast and reserved addresses are refused.")
    return parts.hostname, port, addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to ``address`` (checked), speaks to ``host`` (Host header)."""

    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to ``address`` (checked), verifies the certificate of ``host`` (SNI)."""

    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, context=ssl.create_default_context(), **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST ``body`` to ``url`` (checked again now); (status code, start of the answer).

    Raises CallbackRefused or OSError (timeouts included, WEBHOOK_TIMEOUT_SECONDS for the
    connection and for each read)."""
    host, port, addresses = check(url)
    parts = urlsplit(url)
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = kind(host, port, addresses[0], timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body,
                           headers={**headers, "User-Agent": USER_AGENT,
                                    "Content-Length": str(len(body))})
        response = connection.getresponse()
        answer = response.read(MAX_RESPONSE_BYTES).decode("utf-8", "replace")
        return response.status, answer
    except http.client.HTTPException as exc:
        raise OSError(f"invalid HTTP answer: {exc!r}") from exc
    finally:
        connection.close()
