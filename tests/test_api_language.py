"""One language per surface: the API in English unless the request's Accept-Language prefers
Swedish, and then a problem is Swedish as a whole (title, detail and every reason); the admin
in Swedish unless the person asks for English."""

import pytest
from django.test import Client

from cases.api.middleware import api_language

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(("header", "language"), [
    ("", "en"), ("*", "en"), ("de, fr;q=0.8", "en"), ("en-GB,en;q=0.9", "en"),
    ("sv", "sv"), ("sv-SE,sv;q=0.9,en;q=0.8", "sv"), ("en;q=0.5, sv;q=0.9", "sv"),
    ("en, sv;q=0.9", "en"), ("de, sv;q=0.5", "sv"),
])
def test_the_api_language_follows_the_preference_and_defaults_to_english(header, language):
    assert api_language(header) == language


def bad_list(client: Client, **headers):
    """A list request with a wrong filter (Django's message), an unknown parameter (ours) and
    a page size out of range (ours, with a number in it)."""
    response = client.get("/api/v1/cases/", {"modified_since": "yesterday", "colour": "red",
                                             "limit": "9999"}, **headers)
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    body = response.json()
    return body, {p["name"]: p["reason"] for p in body["invalid_params"]}, response


def test_a_problem_is_english_without_accept_language(client):
    body, reasons, response = bad_list(client)
    assert body["title"] == "Bad Request"
    assert body["detail"] == "One or more query parameters are invalid."
    assert reasons == {"modified_since": "Must be an RFC 3339 instant with its offset, e.g. "
                                         "2026-01-31T12:00:00Z.",
                       "colour": "Unknown query parameter.",
                       "limit": "Must be between 1 and 500."}
    assert response["Content-Language"] == "en"


def test_a_problem_is_swedish_as_a_whole_when_asked(client):
    body, reasons, response = bad_list(client, HTTP_ACCEPT_LANGUAGE="sv-SE,sv;q=0.9,en;q=0.5")
    assert body["title"] == "Felaktig begäran"
    assert body["detail"] == "En eller flera frågeparametrar är ogiltiga."
    assert reasons == {"modified_since": "Måste vara en tidpunkt enligt RFC 3339 med "
                                         "tidszon, t.ex. 2026-01-31T12:00:00Z.",
                       "colour": "Okänd frågeparameter.",
                       "limit": "Måste vara mellan 1 och 500."}
    assert response["Content-Language"] == "sv"


@pytest.mark.parametrize(("language", "title", "detail"), [
    ("en", "Not Found", "Nothing at /api/v1/nowhere/."),
    ("sv", "Hittades inte", "Inget finns på /api/v1/nowhere/."),
])
def test_problems_from_django_speak_the_requests_language(client, language, title, detail):
    body = client.get("/api/v1/nowhere/", HTTP_ACCEPT_LANGUAGE=language).json()
    assert (body["title"], body["detail"]) == (title, detail)


def test_a_cookie_or_session_choice_does_not_reach_the_api(client):
    """The admin's language switch (a cookie) is the person's, not the client system's."""
    client.cookies["django_language"] = "sv"
    body, reasons, _ = bad_list(client)
    assert body["title"] == "Bad Request" and reasons["colour"] == "Unknown query parameter."


def test_the_admin_stays_swedish_by_default(client):
    page = client.get("/admin/login/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert 'lang="sv"' in page.content.decode()
    english = client.get("/admin/login/", HTTP_ACCEPT="text/html", HTTP_ACCEPT_LANGUAGE="en")
    assert 'lang="en"' in english.content.decode()
