"""Request budgets shared by every worker and host (429), and the client address they count.

The counters live in the default cache (``settings.CACHES``): PostgreSQL by default, Redis
when ``REDIS_URL`` is set, never a worker's memory, so that four workers or two hosts allow a
client its rate once, not four or two times. Each budget is a counter per window that is
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
from django.shortcuts import render
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


class Budget:
    """``limit`` hits per ``period`` seconds under one cache key, as a sliding window counter:
    a counter per fixed window, and the estimate ``previous · (1 − f) + current``, f the share
    of the current window gone by. Unlike a fixed window, a client cannot spend its budget at
    the end of one window and again at the start of the next. Every hit counts, refused ones
    too: hammering on while refused keeps a client refused."""

    def __init__(self, key: str, limit: int, period: int, now: float | None = None):
        self.key, self.limit, self.period = key, limit, period
        self.now = time.time() if now is None else now
        self.window = int(self.now // period)
        self.elapsed = self.now - self.window * period

    def _key(self, window: int) -> str:
        return f"{self.key}:{self.period}:{window}"

    def _count(self, spend: bool) -> tuple[int, int]:
        """The current window's count (after one more hit when ``spend``), and the previous."""
        current, before = self._key(self.window), self._key(self.window - 1)
        if not spend:  # one round trip
            counts = cache.get_many([current, before])
            return counts.get(current, 0), counts.get(before, 0)
        previous = cache.get(before, 0)
        # Kept until the next window ends, where it is the previous one.
        timeout = math.ceil(2 * self.period - self.elapsed) + 1
        try:
            return cache.incr(current), previous
        except ValueError:  # the window's first hit
            if cache.add(current, 1, timeout=timeout):
                return 1, previous
            return cache.incr(current), previous  # another worker's first hit came in between

    def _used(self, current: int, previous: int) -> float:
        return previous * (1 - self.elapsed / self.period) + current

    def spend(self) -> bool:
        """One hit: whether it is within the budget."""
        self.current, self.previous = self._count(spend=True)
        return self._used(self.current, self.previous) <= self.limit

    def exhausted(self) -> bool:
        """Whether one more hit would be over the budget (without spending it)."""
        self.current, self.previous = self._count(spend=False)
        return self._used(self.current, self.previous) + 1 > self.limit

    def wait(self) -> int:
        """Seconds until one more hit fits (Retry-After), after ``spend`` or ``exhausted``."""
        room = self.limit - self.current - 1
        if room >= 0:  # in this window, as the previous window's weight falls
            share = 1 - room / self.previous if self.previous else 0
            seconds = share * self.period - self.elapsed
        else:  # in the next one, where this window's count is the previous
            share = 1 - (self.limit - 1) / self.current
            seconds = (self.period - self.elapsed) + share * self.period
        return max(1, math.ceil(seconds))


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
        self.budget = Budget(key, self.num_requests, self.duration)
        return self.budget.spend()

    def wait(self):
        return self.budget.wait()


class FailedAuthentications:
    """A budget of failed authentications per client address (``THROTTLE_AUTH_FAILURES``).

    Over it, the address gets 429 whatever it sends, the right token included, until the
    budget has room again: a guesser learns nothing more meanwhile."""

    scope = "auth_failures"

    def __init__(self, request):
        rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope]
        limit, period = SimpleRateThrottle.parse_rate(None, rate)
        self.budget = Budget(f"throttle_{self.scope}_{budget_address(request) or 'unknown'}",
                             limit, period)

    def check(self):
        if self.budget.exhausted():
            wait = self.budget.wait()
            raise exceptions.Throttled(wait=wait, detail=(
                f"Too many failed authentications from this address: wait {wait} seconds."))

    def record(self):
        self.budget.spend()


class DatabaseCache(DjangoDatabaseCache):
    """Django's database cache with an atomic ``incr``: the row is locked while it is read
    and written, so that two workers adding to one counter never both write the same sum
    (Django's ``incr`` is a get and a set). DRF checks throttles before the view opens a
    transaction, so the lock lasts one short transaction of its own."""

    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        table = connection.ops.quote_name(self._table)
        own_transaction = not connection.in_atomic_block
        with transaction.atomic(using=db), connection.cursor() as cursor:
            if own_transaction:
                # A budget is not a record: its commit need not wait for the WAL to reach
                # the disk (a crash may forget the last requests counted, never a record).
                # Inside a caller's transaction it would relax the caller's writes too.
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
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
    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    response = render(request, "admin/locked_out.html", {
        "title": _("Sign-in blocked"), "minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
