"""Throttling, CORS for reads only, security headers, request ids."""

import pytest
from django.core.cache import cache

pytestmark = pytest.mark.django_db


def test_a_client_over_its_rate_gets_429_as_a_problem(client, settings, monkeypatch):
    from cases.api.limits import ClientRateThrottle

    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "3/minute"})
    cache.clear()
    codes = [client.get("/api/v1/parties/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/parties/")
    assert response["Content-Type"] == "application/problem+json"
    assert int(response["Retry-After"]) > 0
    cache.clear()


def test_cors_allows_reads_from_configured_origins_only(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://www.stockholm.se"]
    allowed = client.get("/api/v1/cases/", HTTP_ORIGIN="https://www.stockholm.se")
    assert allowed["Access-Control-Allow-Origin"] == "https://www.stockholm.se"
    other = client.get("/api/v1/cases/", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in other
    preflight = client.options("/api/v1/cases/", HTTP_ORIGIN="https://www.stockholm.se",
                               HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert "POST" not in preflight.get("Access-Control-Allow-Methods", "")


def test_security_headers(client):
    response = client.get("/api/v1/cases/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_every_response_carries_a_request_id(client):
    assert len(client.get("/api/v1/cases/")["X-Request-ID"]) == 32
    assert client.get("/api/v1/cases/", HTTP_X_REQUEST_ID="abc-1")["X-Request-ID"] == "abc-1"
    forged = client.get("/api/v1/cases/", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert forged != "<script>"
