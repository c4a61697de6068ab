"""The committed OpenAPI document matches the code, validates, is served, and documents itself."""

import difflib
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.core.management import call_command
from django.test import Client, override_settings

from cases.api import serializers  # noqa: F401  (fills the registry of collections)
from cases.api.registry import all_resources

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "openapi.yaml"
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """`make schema`'s command, run in a fresh process, writing to a temporary file."""
    path = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn",
         "--lang", "en", "--file", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    return result, path


@pytest.fixture(scope="module")
def schema(generated):
    result, path = generated
    assert path.exists(), result.stderr
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_committed_schema_is_the_one_the_code_generates(schema):
    committed = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    if committed != schema:
        diff = difflib.unified_diff(
            yaml.safe_dump(committed, allow_unicode=True).splitlines(),
            yaml.safe_dump(schema, allow_unicode=True).splitlines(),
            "openapi.yaml (committed)", "generated from the code", lineterm="", n=2)
        pytest.fail("openapi.yaml is out of date with the code: run `make schema` and commit "
                    "the result. (Its labels come from the compiled Swedish catalogue, which "
                    "`make setup` compiles.)\n" + "\n".join(list(diff)[:60]), pytrace=False)


def test_schema_generation_validates_without_warnings(generated):
    result, _ = generated
    assert result.returncode == 0, f"spectacular --validate --fail-on-warn:\n{result.stderr}"


def operations(schema):
    """(method and path under the server's root, operation): "GET /api/v1/cases/"."""
    root = urlsplit(schema["servers"][0]["url"]).path
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {root}{path}", operation


def test_every_operation_has_a_unique_snake_case_id_and_a_summary(schema):
    ids = [operation["operationId"] for _, operation in operations(schema)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert [i for i in ids if not SNAKE_CASE.match(i)] == []
    assert [name for name, operation in operations(schema)
            if not (operation.get("summary") or operation.get("description"))] == []


def test_every_property_of_the_record_components_has_a_description(schema):
    components = schema["components"]["schemas"]
    # Every collection's record is a component named after its serializer.
    records = {r.full.__name__.removesuffix("Serializer")
               for r in all_resources() if r.collection}
    assert records <= set(components)
    undocumented = {
        f"{name}.{prop}"
        for name, component in components.items()
        if not name.startswith("Paginated")  # page envelopes: count, next, results
        for prop, spec in component.get("properties", {}).items()
        if not spec.get("description")
    }
    assert undocumented == set()


# --- served schema and documentation pages -----------------------------------------------


@pytest.mark.django_db  # its throttle counts in the database
def test_the_schema_is_served_without_authentication(schema):
    response = Client().get("/api/v1/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    served = yaml.safe_load(response.content)
    assert served["openapi"].startswith("3.")
    assert served["info"]["title"] == schema["info"]["title"]
    assert ({op["operationId"] for _, op in operations(served)}
            == {op["operationId"] for _, op in operations(schema)})


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):
    """Static files collected as in production (hashed names in a manifest, WhiteNoise)."""
    root = tmp_path_factory.mktemp("static")
    with override_settings(STATIC_ROOT=root):
        call_command("collectstatic", interactive=False, verbosity=0)
        yield root


class AssetLinks(HTMLParser):
    """Every URL in the page's src and href attributes."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


@pytest.mark.django_db  # their throttle counts in the database
@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_the_documentation_pages_use_only_local_assets(static_root, page):
    client = Client()  # a new client: WhiteNoise reads the collected files when it starts
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    parser = AssetLinks()
    parser.feed(html)
    external = sorted({url for url in parser.urls if re.match(r"^([a-z]+:)?//", url)}
                      | set(re.findall(r"""https?://[^\s"'<>)]+""", html)))
    assert external == [], f"{page} loads assets from other sites: {external}"
    assets = [url for url in parser.urls if url.startswith("/static/")]
    assert assets, f"{page} references no local assets"
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert b"".join(asset.streaming_content), url  # reading it to the end closes it
    assert "/api/v1/schema/" in html


# --- what the schema promises beyond the annotations (cases/api/schema.py) ----------------


def test_every_operation_documents_throttling_and_an_unavailable_database(schema):
    missing = [name for name, op in operations(schema)
               if not {"429", "503"} <= set(op["responses"])]
    assert missing == []
    for name, op in operations(schema):
        for status in ("429", "503"):
            assert "application/problem+json" in op["responses"][status]["content"], name


# A client system's own webhook subscriptions are no register records: no versions to
# match (If-Match), nothing to void.
OWN_ONLY = "/api/v1/subscriptions/"


def test_every_write_documents_its_preconditions(schema):
    writes = [(name, op) for name, op in operations(schema)
              if name.split()[0] in ("PUT", "PATCH", "DELETE") and OWN_ONLY not in name]
    assert writes
    assert [name for name, op in writes if not {"412", "428"} <= set(op["responses"])] == []
    for name, op in writes:
        if_match = next(p for p in op["parameters"] if p["name"] == "If-Match")
        assert if_match["required"] and "pattern" in if_match["schema"], name


def test_every_get_documents_not_modified(schema):
    assert [name for name, op in operations(schema)
            if name.startswith("GET") and "304" not in op["responses"]] == []


def test_every_create_links_to_reading_changing_and_voiding_what_it_made(schema):
    creates = [(name, op) for name, op in operations(schema) if name.startswith("POST")
               and name != "POST /api/v1/search/" and OWN_ONLY not in name]
    assert creates
    for name, op in creates:
        links = op["responses"]["201"]["links"]
        assert {"Read", "Change", "Void"} <= set(links), name
        assert links["Change"]["parameters"] == {"path.id": "$response.body#/id",
                                                 "header.If-Match": "$response.header.ETag"}
    assert "CreateDocuments" in dict(creates)["POST /api/v1/cases/"]["responses"]["201"]["links"]


def test_typed_filters_and_expand_are_typed(schema):
    cases = dict(operations(schema))["GET /api/v1/cases/"]
    params = {p["name"]: p["schema"] for p in cases["parameters"]}
    assert params["expand"]["type"] == "array" and "documents" in params["expand"]["items"]["enum"]
    assert params["id"]["minItems"] == 1
    assert params["title"]["maxLength"] == 200
    assert "modified_since" not in params  # it brings tombstones: the change feed's
    feed = dict(operations(schema))["GET /api/v1/cases/changes/"]
    feed_params = {p["name"]: p["schema"] for p in feed["parameters"]}
    assert feed_params["modified_since"]["format"] == "date-time"
    assert feed_params["title"]["maxLength"] == 200 and "sync_token" in feed_params
