"""Search: Swedish word forms, accents ignored, typos and OCR errors tolerated, ranked."""

import pytest
from django.db import connection

from cases import models as m

pytestmark = pytest.mark.django_db


def search(client, **params):
    response = client.get("/api/v1/search/", params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def titles(hits, kind=None):
    return [h["title"] for h in hits if kind is None or h["type"] == kind]


@pytest.mark.parametrize("query", ["Jonsson", "jönsson", "JÖNSSON"])
def test_a_name_is_found_with_or_without_diacritics(client, query):
    hits = search(client, q=query)
    assert hits[0]["title"] == "Jan Jönsson"
    assert hits[0]["type"] == "people"
    assert hits[0]["match"] == "fulltext"


def test_swedish_word_forms_match(client):
    # "samverkansmodeller" (plural) finds "samverkansmodell" / "samverkansmodellen".
    hits = search(client, q="samverkansmodeller", type="documents")
    assert "Samverkansmodell mellan skola och socialtjänst" in titles(hits)


def test_hits_are_ranked_and_highlighted(client):
    hits = search(client, q="Skottlandsmodellen")
    ranks = [h["rank"] for h in hits if h["match"] == "fulltext"]
    assert ranks == sorted(ranks, reverse=True)
    assert all("<mark>" in h["snippet"] for h in hits)
    assert "Skottlandsmodellen" in titles(hits, "collaboration-models")


def test_the_ocr_document_is_found_by_the_correct_spelling(client):
    # The OCR text of 000 spells the committee "utbildningsndmnden".
    ocr = m.Document.objects.get(source_file="000_aaf7615f121a1832.txt")
    hits = search(client, q="utbildningsnämnden", type="documents")
    match = next(h for h in hits if h["id"] == str(ocr.pk))
    assert "utbildningsndmnden" in match["snippet"].lower()


def test_a_typo_still_finds_the_record(client):
    hits = search(client, q="Skotlandsmodellen")  # one t missing
    assert "Skottlandsmodellen" in titles(hits, "collaboration-models")
    assert {h["match"] for h in hits} == {"similar"}


def test_type_restricts_the_collections(client):
    hits = search(client, q="skola", type="cases,motions")
    assert hits
    assert {h["type"] for h in hits} <= {"cases", "motions"}


def test_hit_urls_lead_to_the_records(client):
    hit = search(client, q="Jonsson")[0]
    record = client.get(hit["url"].split("testserver")[-1]).json()
    assert record["name"] == "Jan Jönsson"


def test_bad_search_parameters_are_all_reported(client):
    response = client.get("/api/v1/search/", {"type": "planets", "limit": "0", "x": "1"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    names = {p["name"] for p in response.json()["invalid_params"]}
    assert names == {"q", "type", "limit", "x"}


def test_the_index_follows_edits(client):
    person = m.Person.objects.get(name="Peter Bragner")
    person.name = "Peter Bragnér-Testsson"
    person.save()
    assert search(client, q="Testsson")[0]["id"] == str(person.pk)
    person.voided_at = person.modified
    person.save()
    assert str(person.pk) not in {h["id"] for h in search(client, q="Testsson")}


def _plan(sql, params):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_search_uses_its_indexes_not_a_sequential_scan():
    """With few rows PostgreSQL would rightly scan; forbidding it shows the index applies."""
    fulltext = _plan("SELECT id FROM cases_searchentry WHERE vector @@ "
                     "websearch_to_tsquery('swedish_unaccent', %s)", ["skola"])
    assert "search_vector_gin" in fulltext
    # The lexicon grows to tens of thousands of stems; with that many the trigram index wins.
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO cases_searchword (word) SELECT md5(i::text) "
                       "FROM generate_series(1, 20000) i")
        cursor.execute("ANALYZE cases_searchword")
    similar = _plan("SELECT word FROM cases_searchword WHERE word %% %s", ["skotlandsmodell"])
    assert "search_word_trgm" in similar


def test_ranking_is_exact_up_to_the_candidate_cap_and_bounded_beyond(client, monkeypatch):
    from cases import search as search_module

    exact = [h for h in search(client, q="skola", limit=100) if h["match"] == "fulltext"]
    assert len(exact) > 2  # all matches ranked: fewer than RANK_CANDIDATES
    monkeypatch.setattr(search_module, "RANK_CANDIDATES", 2)
    capped = [h for h in search(client, q="skola", limit=100) if h["match"] == "fulltext"]
    assert len(capped) == 2  # only two matches were ranked
    assert {h["id"] for h in capped} <= {h["id"] for h in exact}  # real matches
    ranks = [h["rank"] for h in capped]
    assert ranks == sorted(ranks, reverse=True)
    assert all("<mark>" in h["snippet"] for h in capped)
