"""Abuse (issue 11, hole 7): budgets that hold across workers and hosts, forwarded addresses
believed only from trusted proxies, failed authentications throttled, the admin's sign-in
locked after repeated wrong passwords, and slow clients that cannot starve gunicorn's workers
behind the production proxy.

The servers are real: gunicorn started as docker-compose's `web` command runs it, on the test
database, with the database cache or the machine's Redis (``TEST_REDIS_URL``, default
redis://127.0.0.1:6379/0), and Debian's nginx (``make nginx``) with the proxy configuration of
docker-compose's `proxy` service (deploy/nginx/). Client addresses in X-Forwarded-For are
documentation addresses (RFC 5737, RFC 3849), drawn at random so that runs sharing the
machine's Redis never share a budget; every request goes to 127.0.0.1.
"""

import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import redis
import yaml
from django.contrib.auth.models import User
from django.db import connection
from django.test import RequestFactory

from cases.api.limits import Budget, ClientRateThrottle, budget_address, client_address
from cases.services.tokens import issue_token

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NGINX = "/usr/sbin/nginx"
PROBLEM = "application/problem+json"


def random_client() -> tuple[str, str]:
    """A client address in a /64 of its own in the IPv6 documentation range, and that /64's
    network address (its budget's name)."""
    block = f"2001:db8:{random.getrandbits(16):x}:{random.getrandbits(16):x}::"
    return f"{block}1", block


# --- the client address ---------------------------------------------------------------------

PROXIES = ["10.0.0.0/8", "192.0.2.1"]


@pytest.mark.parametrize(("trusted", "peer", "forwarded", "client"), [
    ([], "198.51.100.1", "203.0.113.9", "198.51.100.1"),  # no proxy trusted: the peer
    (PROXIES, "198.51.100.1", "203.0.113.9", "198.51.100.1"),  # an untrusted peer
    (PROXIES, "10.0.0.2", "203.0.113.9", "203.0.113.9"),  # the proxy's word
    (PROXIES, "10.0.0.2", "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # a prefix the client wrote
    (PROXIES, "10.0.0.2", "203.0.113.9, 192.0.2.1", "203.0.113.9"),  # two trusted proxies
    (PROXIES, "10.0.0.2", "nonsense, 203.0.113.9", "203.0.113.9"),
    (PROXIES, "10.0.0.2", "203.0.113.9, nonsense", "10.0.0.2"),  # stops at what is no address
    (PROXIES, "10.0.0.2", "", "10.0.0.2"),
    (PROXIES, "10.0.0.2", " ::ffff:203.0.113.9 ", "203.0.113.9"),
])
def test_the_client_address_is_the_peer_unless_a_trusted_proxy_forwarded_it(
        settings, trusted, peer, forwarded, client):
    settings.TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == client


def test_an_ipv6_client_has_one_budget_for_its_64_block(settings):
    settings.TRUSTED_PROXIES = []
    first = RequestFactory().get("/", REMOTE_ADDR="2001:db8:1:2:aaaa::1")
    second = RequestFactory().get("/", REMOTE_ADDR="2001:db8:1:2:bbbb:cccc:dddd:1")
    other = RequestFactory().get("/", REMOTE_ADDR="2001:db8:1:3::1")
    assert budget_address(first) == budget_address(second) == "2001:db8:1:2::"
    assert budget_address(other) == "2001:db8:1:3::"
    assert budget_address(RequestFactory().get("/", REMOTE_ADDR="198.51.100.7")) == \
        "198.51.100.7"


# --- budgets in-process (the cache is the test database's, rolled back after each test) -------

@pytest.mark.django_db
def test_a_budget_slides_over_the_window_boundary_and_its_wait_is_honest():
    clock = [6000.0]  # a window of 60 s starts

    def hit(key):
        budget = Budget(f"throttle_test_{key}", 3, 60, now=clock[0])
        return budget.spend(), budget.wait()

    assert [hit("a")[0] for _ in range(3)] == [True, True, True]
    clock[0] = 6059.0
    allowed, wait = hit("a")
    # Four hits in this window weigh half as much 30 s into the next: 4 · 0.5 + 1 = 3.
    assert (allowed, wait) == (False, 31)
    clock[0] += wait
    assert hit("a")[0] is True
    # Three hits at the end of a window leave no new three at the start of the next.
    clock[0] = 7199.0
    assert [hit("b")[0] for _ in range(3)] == [True, True, True]
    clock[0] = 7200.0
    assert hit("b")[0] is False


@pytest.fixture
def three_a_day(monkeypatch):
    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "3/day"})


@pytest.mark.django_db
def test_a_forwarded_for_from_an_untrusted_peer_does_not_reset_the_budget(
        client, settings, three_a_day):
    settings.TRUSTED_PROXIES = []
    codes = [client.get("/api/v1/parties/", REMOTE_ADDR="198.51.100.23",
                        HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]


@pytest.mark.django_db
def test_a_forwarded_for_from_a_trusted_proxy_is_honoured(client, settings, three_a_day):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    def status(forwarded):
        return client.get("/api/v1/parties/", REMOTE_ADDR="10.20.30.40",
                          HTTP_X_FORWARDED_FOR=forwarded).status_code

    assert [status("203.0.113.5") for _ in range(4)] == [200, 200, 200, 429]
    # What the client wrote itself, left of what the proxy appended, buys no new budget ...
    assert [status(f"198.51.100.{i}, 203.0.113.5") for i in range(3)] == [429, 429, 429]
    # ... while another client behind the same proxy has its own.
    assert status("203.0.113.6") == 200


@pytest.mark.django_db
def test_failed_authentications_are_throttled_per_address(client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth_failures": "5/day"}}
    _, key = issue_token(name="E-arkiv")

    def get(token, peer="198.51.100.40"):
        return client.get("/api/v1/cases/", REMOTE_ADDR=peer, HTTP_AUTHORIZATION=f"Token {token}")

    assert [get(f"guess{i}").status_code for i in range(5)] == [401] * 5
    throttled = get("guess5")
    assert throttled.status_code == 429
    assert throttled["Content-Type"] == PROBLEM
    assert throttled.json()["status"] == 429
    # Until the day's five failures, sliding out of the window, leave room for one more.
    assert 86400 * 0.2 < int(throttled["Retry-After"]) <= 86400 * 1.2
    # The right key from that address waits too: a guesser learns nothing until the window ends.
    assert get(key).status_code == 429
    assert get(key, peer="198.51.100.41").status_code == 200


# --- the admin's sign-in ---------------------------------------------------------------------

PASSWORD = "rätt-lösenord-2026"


@pytest.fixture
def officer(db, settings):
    settings.AXES_FAILURE_LIMIT = 5
    # A fast hash: the lockout does not depend on it, and a dozen slow ones add seconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return User.objects.create_user("handlaggare", password=PASSWORD, is_staff=True)


def sign_in(client, username, password, peer, forwarded=None):
    # A person's browser: the admin answers it in HTML (a script gets problem+json).
    extra = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post("/admin/login/", {"username": username, "password": password,
                                         "next": "/admin/"}, REMOTE_ADDR=peer, **extra)


def test_wrong_passwords_lock_the_sign_in_also_for_the_right_one(client, officer):
    peer = "198.51.100.60"
    codes = [sign_in(client, "handlaggare", f"fel-{i}", peer).status_code for i in range(5)]
    assert codes == [200, 200, 200, 200, 429]  # the form again; the fifth failure locks
    locked = sign_in(client, "handlaggare", PASSWORD, peer)
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "För många misslyckade inloggningsförsök" in page
    assert "spärrad i 15 minuter, även med rätt lösenord" in page
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # to the sign-in page
    # The user name is locked from elsewhere too (a guesser may use many addresses).
    assert sign_in(client, "handlaggare", PASSWORD, "198.51.100.61").status_code == 429


def test_the_lockout_counts_the_client_address_as_the_throttle_does(client, officer, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    # From an untrusted peer, a new X-Forwarded-For per guess is still the same client.
    for i in range(5):
        sign_in(client, f"gissning{i}", "fel", "198.51.100.70", forwarded=f"203.0.113.{i}")
    assert sign_in(client, "handlaggare", PASSWORD, "198.51.100.70",
                   forwarded="203.0.113.99").status_code == 429
    # Behind a trusted proxy, one client's guesses lock that client, not its neighbours.
    for i in range(5):
        sign_in(client, f"gissning{i}", "fel", "10.0.0.5", forwarded="203.0.113.50")
    assert sign_in(client, "handlaggare", PASSWORD, "10.0.0.5",
                   forwarded="203.0.113.50").status_code == 429
    signed_in = sign_in(client, "handlaggare", PASSWORD, "10.0.0.5", forwarded="203.0.113.51")
    assert signed_in.status_code == 302
    assert client.session["_auth_user_id"] == str(officer.pk)


# --- real servers ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_database_url() -> str:
    """The settings' database URL with the test database's name, for the server processes."""
    from caseregister import settings as project

    url = urlsplit(project._database_url)
    return urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}"))


def web_command(bind: str, workers: int) -> list[str]:
    """docker-compose's `web` command, bound to ``bind`` with ``workers`` workers."""
    command = list(COMPOSE["services"]["web"]["command"])
    assert command[0] == "gunicorn"
    command[command.index("--bind") + 1] = bind
    command[command.index("--workers") + 1] = str(workers)
    return [sys.executable, "-m", *command, "--no-control-socket"]


def wait_for(check, process, log: Path, what: str):
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, f"{what} exited:\n{log.read_text()}"
        try:
            if check():
                return
        except (OSError, httpx.TransportError):
            pass
        assert time.monotonic() < deadline, f"{what} did not answer:\n{log.read_text()}"
        time.sleep(0.2)


@contextmanager
def gunicorns(directory: Path, count: int = 1, workers: int = 1, **environment):
    """``count`` gunicorn servers on the test database, started together; their URLs."""
    env = {**os.environ, "DATABASE_URL": server_database_url(), "DEBUG": "0",
           "SECURE_SSL_REDIRECT": "0", "SECURE_COOKIES": "0", "REDIS_URL": "", **environment}
    env.pop("TEST_DATABASE_NAME", None)
    servers = []
    try:
        for _ in range(count):
            port = free_port()
            log = directory / f"gunicorn-{port}.log"
            with open(log, "wb") as out:
                process = subprocess.Popen(web_command(f"127.0.0.1:{port}", workers), cwd=ROOT,
                                           env=env, stdout=out, stderr=subprocess.STDOUT)
            servers.append((process, f"http://127.0.0.1:{port}", log))
        for process, url, log in servers:
            wait_for(lambda url=url: httpx.get(f"{url}/admin/login/", timeout=5), process, log,
                     "gunicorn")
        yield [url for _, url, _ in servers]
    finally:
        for process, _, _ in servers:
            process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        for process, _, _ in servers:
            process.wait(timeout=30)


def proxy_configuration(upstream: str, listen: str) -> str:
    """docker-compose's proxy configuration, its template filled in as the nginx image does
    (envsubst of the service's environment), with gunicorn and the port of this test."""
    proxy = COMPOSE["services"]["proxy"]
    mount = next(v for v in proxy["volumes"] if v.split(":")[1].startswith("/etc/nginx/templates/"))
    template = (ROOT / mount.split(":")[0]).read_text()
    values = {**proxy["environment"], "UPSTREAM": upstream, "LISTEN_PORT": listen}
    filled = re.sub(r"\$\{(\w+)\}", lambda m: str(values.get(m[1], m[0])), template)
    assert "${" not in filled, filled
    return filled


@contextmanager
def nginx(directory: Path, upstream: str):
    """Debian's nginx in the foreground with the compose proxy's configuration, its own
    prefix, logs and temporary files in ``directory``; its URL."""
    assert os.access(NGINX, os.X_OK), "no nginx: run `make nginx` (Debian's package)"
    port = free_port()
    prefix = directory / f"nginx-{port}"
    prefix.mkdir()
    (prefix / "proxy.conf").write_text(proxy_configuration(upstream, f"127.0.0.1:{port}"))
    temp = " ".join(f"{kind}_temp_path {prefix / kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (prefix / "nginx.conf").write_text(f"""
daemon off;
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {prefix}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/access.log;
    {temp}
    include {prefix}/proxy.conf;
}}
""")
    log = prefix / "error.log"
    process = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                                "-e", str(log)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT)
    try:
        log.touch()
        wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close()
                 or True, process, log, "nginx")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


# --- budgets shared by processes -------------------------------------------------------------

SHARED_RATE = 10


@pytest.fixture(scope="module", params=["database", "redis"])
def two_servers(request, django_db_setup, tmp_path_factory):
    """Two gunicorn servers of two workers each, behind what they take for a trusted proxy
    (127.0.0.1), counting in the database cache or in Redis."""
    environment = {"THROTTLE_RATE": f"{SHARED_RATE}/day", "TRUSTED_PROXIES": "127.0.0.1"}
    if request.param == "redis":
        environment["REDIS_URL"] = REDIS_URL
    with gunicorns(tmp_path_factory.mktemp(request.param), count=2, workers=2,
                   **environment) as urls:
        yield request.param, urls


def counters(backend: str, address: str, django_db_blocker) -> list[str]:
    """The cache keys of ``address``'s budget, in the database cache or in Redis."""
    if backend == "redis":
        return [key.decode() for key in redis.Redis.from_url(REDIS_URL).keys(f"*{address}*")]
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM caseregister_cache WHERE cache_key LIKE %s",
                       [f"%{address}%"])
        return [row[0] for row in cursor.fetchall()]


def forget(backend: str, address: str):
    if backend == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        keys = client.keys(f"*{address}*")
        if keys:
            client.delete(*keys)


def test_two_servers_share_one_budget(two_servers, django_db_blocker):
    backend, (first, second) = two_servers
    address, block = random_client()
    try:
        codes = [httpx.get(f"{(first, second)[i % 2]}/api/v1/parties/",
                           headers={"X-Forwarded-For": address}).status_code
                 for i in range(SHARED_RATE + 2)]
        assert codes == [200] * SHARED_RATE + [429, 429]
        assert counters(backend, block, django_db_blocker)  # where every host sees it
    finally:
        forget(backend, block)


def test_concurrent_requests_spend_the_budget_exactly(two_servers):
    backend, urls = two_servers
    address, block = random_client()
    try:
        with httpx.Client(headers={"X-Forwarded-For": address}, timeout=30) as client, \
                ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(
                lambda i: client.get(f"{urls[i % 2]}/api/v1/parties/").status_code,
                range(3 * SHARED_RATE)))
        assert sorted(codes) == [200] * SHARED_RATE + [429] * (2 * SHARED_RATE)
    finally:
        forget(backend, block)


# --- slow clients behind the production proxy ------------------------------------------------

SLOW_HEADERS = 24  # connections trickling their headers: 12 per sync worker
SLOW_BODIES = 6  # connections trickling a declared body


def slow_connection(url: str, body: bool) -> socket.socket:
    host, port = urlsplit(url).hostname, urlsplit(url).port
    sock = socket.create_connection((host, port), timeout=5)
    if body:
        sock.sendall(b"POST /api/v1/cases/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
    else:
        sock.sendall(b"GET /api/v1/cases/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return sock


def test_slow_clients_do_not_hold_the_workers_behind_the_proxy(django_db_setup, tmp_path):
    workers = int(COMPOSE["services"]["web"]["command"][-1])  # as compose runs it
    with gunicorns(tmp_path, workers=workers, THROTTLE_RATE="1000000/minute",
                   TRUSTED_PROXIES="127.0.0.1") as [app], \
            nginx(tmp_path, urlsplit(app).netloc) as proxy, ExitStack() as stack:
        slow = [stack.enter_context(slow_connection(proxy, body=False))
                for _ in range(SLOW_HEADERS)]
        bodies = [stack.enter_context(slow_connection(proxy, body=True))
                  for _ in range(SLOW_BODIES)]
        timings = []
        for _ in range(10):
            for sock in slow:
                sock.sendall(b"X-Slow: 1\r\n")  # raises if the proxy gave up on it
            for sock in bodies:
                sock.sendall(b" ")
            start = time.monotonic()
            response = httpx.get(f"{proxy}/api/v1/parties/", timeout=10)
            timings.append(time.monotonic() - start)
            assert response.status_code == 200, response.text
            time.sleep(0.2)
        # A worker held by a slow client would leave these waiting for the whole test (or
        # time out); a busy machine (the suite runs on two workers) may slow one a little.
        assert sorted(timings)[len(timings) // 2] < 1.0 and max(timings) < 5.0, timings


def test_what_the_proxy_answers_itself_is_a_problem_document(tmp_path):
    with nginx(tmp_path, f"127.0.0.1:{free_port()}") as proxy:  # no gunicorn there
        down = httpx.get(f"{proxy}/api/v1/cases/", timeout=10)
        assert down.status_code == 502
        assert down.headers["Content-Type"] == PROBLEM
        assert down.json()["status"] == 502
        assert int(down.headers["Retry-After"]) > 0
        port = urlsplit(proxy).port
        for raw, status in [
            (b"POST /api/v1/cases/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413),
            (b"NONSENSE\r\n\r\n", 400),
            (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        ]:
            head, body = exchange(port, raw)
            assert head.split()[1] == str(status).encode(), head
            assert b"content-type: application/problem+json" in head.lower(), head
            assert f'"status":{status}'.encode() in body


def exchange(port: int, raw: bytes) -> tuple[bytes, bytes]:
    """Send ``raw`` and read the answer until the proxy closes the connection. (After a 413
    nginx lingers up to ``lingering_timeout``, 5 s, for the body it refused before it closes:
    the socket's timeout must outlast that.)"""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, body



@pytest.mark.django_db
def test_a_budget_spent_inside_a_transaction_leaves_its_durability_alone():
    """A budget's own commit does not wait for the WAL (cases.api.limits.DatabaseCache);
    inside a caller's transaction that setting would reach the caller's writes: not made."""
    from django.db import connection, transaction

    with transaction.atomic():
        budget = Budget("throttle_test_durability", 5, 60)
        assert budget.spend() and budget.spend()  # the second adds to the first (incr)
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"
