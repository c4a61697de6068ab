"""Request budgets shared by every worker and host (429), and the client address they count.

The counters live in the default cache (``settings.CACHES``): PostgreSQL by default, Redis
when ``REDIS_URL`` is set, never a worker's memory, so that four workers or two hosts allow a
client its rate once, not four or two times. Each budget is a counter per fixed window that is
incremented atomically (Redis INCR; a row lock in the database cache), so that concurrent
requests of one client cannot all read the same old count; DRF's own throttle keeps a list of
timestamps per client, read and written back whole, which loses hits between workers and
writes a 6000-entry list per request at the default rate.

The client address is the direct peer unless that peer is one of ``TRUSTED_PROXIES``: only
then is ``X-Forwarded-For`` read, from the right, up to the first address that is not a trusted
proxy. Anything further left was written by the client and would let it pick a fresh budget
per request. The same address is what the admin's login lockout (django-axes) counts.
"""

import base64
import ipaddress
import math
import pickle
import time
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.core.management import call_command
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.throttling import SimpleRateThrottle

# An IPv6 client usually holds a whole /64 (SLAAC, privacy addresses): one budget for it.
IPV6_BUDGET_PREFIX = 64


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]):
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _address(value: str):
    """``value`` as an address (IPv4-mapped IPv6 as IPv4), or None if it is not one."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address) -> bool:
    return any(address in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_address(request) -> str | None:
    """The address of the client behind ``request``, as the budgets and the login lockout see it.

    The peer (REMOTE_ADDR) unless it is a trusted proxy; then X-Forwarded-For from the right:
    every trusted proxy appends the peer it saw, so the rightmost address that is not itself a
    trusted proxy is the client. A value there that is no address stops the walk at the hop
    that reported it. None without a peer address (a request built in a test, a Unix socket)."""
    meta = request.META
    address = _address(meta.get("REMOTE_ADDR", ""))
    if address is None:
        return None
    if _trusted(address):
        for hop in reversed(meta.get("HTTP_X_FORWARDED_FOR", "").split(",")):
            forwarded = _address(hop)
            if forwarded is None:
                break
            address = forwarded
            if not _trusted(forwarded):
                break
    return str(address)


def budget_address(request) -> str | None:
    """The client address with an IPv6 address cut to its /64, the block one client holds:
    otherwise every address of it would be a fresh budget."""
    address = client_address(request)
    parsed = _address(address or "")
    if isinstance(parsed, ipaddress.IPv6Address):
        network = ipaddress.ip_network(f"{parsed}/{IPV6_BUDGET_PREFIX}", strict=False)
        return str(network.network_address)
    return address


def spend(key: str, period: int) -> tuple[int, int]:
    """One hit on ``key`` in the current window of ``period`` seconds: the window's count so
    far, this hit included, and the seconds until the window ends."""
    now = time.time()
    window = int(now // period)
    left = max(1, math.ceil((window + 1) * period - now))
    key = f"{key}:{period}:{window}"
    try:
        return cache.incr(key), left
    except ValueError:  # the window's first hit
        if cache.add(key, 1, timeout=left + 1):
            return 1, left
        return cache.incr(key), left  # another worker's first hit came in between


def spent(key: str, period: int) -> tuple[int, int]:
    """The current window's count of ``key`` (without a hit), and the seconds it has left."""
    now = time.time()
    window = int(now // period)
    return cache.get(f"{key}:{period}:{window}", 0), max(1, math.ceil((window + 1) * period - now))


class ClientRateThrottle(SimpleRateThrottle):
    """One budget per client: its token, else its signed-in user, else its address."""

    scope = "client"

    def get_ident(self, request):
        return budget_address(request) or "unknown"

    def get_cache_key(self, request, view):
        token = getattr(request, "auth", None)
        if hasattr(token, "can_write"):
            ident = f"token-{token.pk}"
        elif request.user and request.user.is_authenticated and request.user.pk:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        count, self.retry_after = spend(key, self.duration)
        return count <= self.num_requests

    def wait(self):
        return self.retry_after


class FailedAuthentications:
    """A budget of failed authentications per client address (``THROTTLE_AUTH_FAILURES``).

    Over it, the address gets 429 for the rest of the window whatever it sends, the right
    token included: a guesser learns nothing more until the window ends."""

    scope = "auth_failures"

    def __init__(self, request):
        self.key = f"throttle_{self.scope}_{budget_address(request) or 'unknown'}"
        rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope]
        self.limit, self.period = SimpleRateThrottle.parse_rate(None, rate)

    def check(self):
        count, left = spent(self.key, self.period)
        if count >= self.limit:
            raise exceptions.Throttled(wait=left, detail=(
                "Too many failed authentications from this address: "
                f"wait {left} seconds."))

    def record(self):
        spend(self.key, self.period)


class DatabaseCache(DjangoDatabaseCache):
    """Django's database cache with an atomic ``incr``: the row is locked while it is read
    and written, so that two workers adding to one counter never both write the same sum
    (Django's ``incr`` is a get and a set)."""

    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        table = connection.ops.quote_name(self._table)
        with transaction.atomic(using=db), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT value, expires FROM {table} WHERE cache_key = %s FOR UPDATE", [key])
            row = cursor.fetchone()
            if row is None or row[1] < timezone.now():
                raise ValueError(f"Key '{key}' not found")
            value = pickle.loads(base64.b64decode(row[0].encode())) + delta
            cursor.execute(
                f"UPDATE {table} SET value = %s WHERE cache_key = %s",
                [base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1"),
                 key])
        return value


def create_cache_table(using="default", **kwargs):
    """post_migrate: the database cache's table (``createcachetable``; nothing when the
    cache is Redis), created by whoever migrates, so that `make run`, the tests and compose
    need no extra step."""
    call_command("createcachetable", database=using, verbosity=0)


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a sign-in while locked out: the admin's page saying, in the
    user's language (Swedish by default), for how long (429)."""
    from django.shortcuts import render

    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    response = render(request, "admin/locked_out.html", {
        "title": _("Sign-in blocked"), "minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
