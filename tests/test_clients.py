"""Clients that just work: the committed openapi.yaml generates code that type-checks, with
each generator an integrating team is likely to use, and a TypeScript client runs against the
live API.

- Python: openapi-python-client, checked by ``mypy --strict`` (a component named like one of
  its properties, e.g. ``Sector.sector``, fails it: the generated ``from_dict`` names its
  local variable after both);
- TypeScript: openapi-typescript (types), @hey-api/openapi-ts and orval (fetch clients), each
  checked by ``tsc --noEmit`` in strict mode (orval's output failed it on drf-spectacular's
  ``oneOf: [XEnum, BlankEnum]``, an object spread of an enum before its declaration);
- then the hey-api client, compiled by tsc and run by node, against pytest-django's live
  server: list, filter (also by natural keys), follow ``next``, expand, the change feed, create
  a case and a motion, change the case with If-Match (a stale tag is refused with 412);
  subscribe to webhooks, build a motion with its authors and proposals, change it and its
  parts with If-Match, and the receiver (a real one, fed by a real worker) gets a verified
  message for every change. The Python client's run is tests/test_api_client.py.

The npm tools are the Makefile's pins (NPM_TOOLS), installed once into build/npm by ``make
npm-tools`` (a stamp named for the pins: warm runs install nothing). The generators run in
parallel; the file takes about a minute on a warm cache.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cases import models as m
from cases.services.fixtures import load_register
from cases.services.tokens import issue_token

from .test_webhooks import verified, wait_for

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "openapi.yaml"
NPM_BIN = ROOT / "build" / "npm" / "node_modules" / ".bin"
VENV_BIN = Path(sys.executable).parent
TIMEOUT = 600

# Strict, as a team compiling the generated code in its own strict project would; skipLibCheck
# only for the DOM/ES declarations that ship with TypeScript.
TSCONFIG = {"compilerOptions": {
    "target": "ES2022", "module": "commonjs", "moduleResolution": "node", "strict": True,
    "noEmit": True, "skipLibCheck": True, "lib": ["ES2022", "DOM", "DOM.Iterable"],
    "noUnusedLocals": False, "forceConsistentCasingInFileNames": True}}

GENERATORS = {
    "python": [str(VENV_BIN / "openapi-python-client"), "generate", "--path", str(SCHEMA),
               "--output-path", "{out}", "--meta", "setup", "--fail-on-warning"],
    "openapi-typescript": [str(NPM_BIN / "openapi-typescript"), str(SCHEMA),
                           "--output", "{out}/schema.d.ts"],
    "hey-api": [str(NPM_BIN / "openapi-ts"), "--input", str(SCHEMA), "--output", "{out}",
                "--client", "@hey-api/client-fetch"],
    "orval": [str(NPM_BIN / "orval"), "--input", str(SCHEMA), "--output", "{out}/api.ts",
              "--client", "fetch"],
}


def run(command, cwd, env=None):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT,
                            env=env)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command[:4]))} ... failed:\n{result.stdout[-6000:]}"
        f"{result.stderr[-3000:]}")
    return result.stdout


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Every client generated from the committed schema, in parallel: {name: directory}."""
    run(["make", "-s", "npm-tools"], cwd=ROOT)
    base = tmp_path_factory.mktemp("clients")
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    running = {}
    for name, command in GENERATORS.items():
        out = base / name
        if name != "python":  # openapi-python-client creates its own directory
            out.mkdir()
        running[name] = (out, subprocess.Popen(
            [part.format(out=out) for part in command], cwd=base, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    failures = {}
    for name, (_, process) in running.items():
        output, _ = process.communicate(timeout=TIMEOUT)
        if process.returncode != 0:
            failures[name] = output[-4000:]
    assert not failures, failures
    return {name: out for name, (out, _) in running.items()}


def tsc(directory: Path, **options) -> str:
    config = {"compilerOptions": {**TSCONFIG["compilerOptions"], **options},
              "include": ["**/*.ts"]}
    (directory / "tsconfig.json").write_text(json.dumps(config))
    return run([str(NPM_BIN / "tsc"), "-p", str(directory / "tsconfig.json")], cwd=directory)


def test_the_python_client_passes_mypy_strict(generated):
    package = next(p.name for p in generated["python"].iterdir()
                   if (p / "__init__.py").exists())
    run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", package],
        cwd=generated["python"])


@pytest.mark.parametrize("name", ["openapi-typescript", "hey-api", "orval"])
def test_a_typescript_client_compiles(generated, name):
    tsc(generated[name])


def test_the_schema_gives_clients_what_they_need():
    """What the generators rely on: a server (their base URL), described tags, English
    summaries on every operation, one enum per blank choice, plain lists typed as records."""
    import yaml

    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    assert schema["servers"][0]["url"].startswith("http")
    tags = {tag["name"]: tag["description"] for tag in schema["tags"]}
    operations = [op for item in schema["paths"].values() for op in item.values()
                  if isinstance(op, dict) and "operationId" in op]
    for operation in operations:
        assert operation["tags"] and set(operation["tags"]) <= set(tags), operation
        assert operation.get("summary"), operation["operationId"]
        assert not re.search("[åäöÅÄÖ]", operation["summary"]), operation["summary"]
    components = schema["components"]["schemas"]
    assert "BlankEnum" not in components and "NullEnum" not in components
    listed = components["PaginatedCaseList"]["properties"]["results"]["items"]
    assert listed == {"$ref": "#/components/schemas/Case"}
    fed = components["PaginatedCaseChangeList"]["properties"]["results"]["items"]
    assert fed["oneOf"][1] == {"$ref": "#/components/schemas/Tombstone"}


# --- a TypeScript client against the live server ---------------------------------------------

MAIN_TS = textwrap.dedent("""\
    // Drives the generated @hey-api/openapi-ts client against a live register; prints what it
    // saw as JSON for the Python side to check against the database.
    import { client } from "./client.gen";
    import {
      casesChanges, casesCreate, casesList, casesPartialUpdate, casesRetrieve, documentsList,
      motionsCreate, motionsPartialUpdate, subscriptionsCreate,
    } from "./sdk.gen";
    import type { Case, Tombstone } from "./types.gen";

    // Node's globals, declared here rather than installing @types/node.
    declare const process: { env: Record<string, string | undefined>; exit(code: number): never };

    const token = process.env.TOKEN as string;
    client.setConfig({ baseUrl: process.env.BASE_URL, headers: { "X-Forwarded-Proto": "https" } });
    const auth = { headers: { Authorization: `Token ${token}` } };

    function cursorOf(next: string | null): string | undefined {
      return next === null ? undefined : new URL(next).searchParams.get("cursor") ?? undefined;
    }

    async function main(): Promise<void> {
      const out: Record<string, unknown> = {};
      // Filter by registration number (as written, or in any case and spacing).
      const found = await casesList({ query: { registration_number: "ks2025/638" } });
      if (!found.data) throw new Error(`list: ${JSON.stringify(found.error)}`);
      const cases: Case[] = found.data.results;
      out.filtered = cases.map((c) => c.id);
      // Natural keys: a case's documents by its number as typed, cases by a municipality's
      // name without its diacritic.
      const docs = await documentsList({ query: { case: "ks2025/638", page_size: 500 } });
      if (!docs.data) throw new Error(`documents: ${JSON.stringify(docs.error)}`);
      out.case_documents = docs.data.results.map((d) => d.id);
      const malmo = await casesList({ query: { municipality: "malmo", page_size: 500 } });
      if (!malmo.data) throw new Error(`municipality: ${JSON.stringify(malmo.error)}`);
      out.malmo = malmo.data.results.map((c) => c.id);
      // Follow next through every page of two.
      const seen: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await casesList({ query: { page_size: 2, cursor } });
        if (!page.data) throw new Error(`page: ${JSON.stringify(page.error)}`);
        seen.push(...page.data.results.map((c) => c.id));
        cursor = cursorOf(page.data.next);
        if (cursor === undefined) break;
      }
      out.walked = seen;
      // Expand a case's documents (full records instead of briefs).
      const one = await casesRetrieve({
        path: { id: cases[0].id }, query: { expand: ["documents"] } });
      if (!one.data) throw new Error(`retrieve: ${JSON.stringify(one.error)}`);
      out.documents = (one.data.documents ?? []).map((d) => ("title" in d ? d.title : null));
      // The change feed: records and tombstones, told apart by `voided`.
      const feed = await casesChanges({ query: { sync_token: "0", page_size: 500 } });
      if (!feed.data) throw new Error(`feed: ${JSON.stringify(feed.error)}`);
      const tombstones = feed.data.results.filter(
        (r): r is Tombstone => "voided" in r && r.voided === true);
      out.tombstones = tombstones.map((t) => t.id);
      out.sync_token = feed.data.sync_token;
      // Create a case and a motion on it, then change the case with If-Match.
      const created = await casesCreate({ ...auth, body: {
        title: "Medborgarförslag från TypeScript", municipality: process.env.MUNICIPALITY as string,
        registering_organisation: process.env.ORGANISATION as string, year: 2026 } });
      if (!created.data) throw new Error(`create: ${JSON.stringify(created.error)}`);
      out.created = created.data.id;
      out.number = created.data.registration_numbers[0].number;
      const motion = await motionsCreate({ ...auth, body: {
        case: created.data.id, title: "Motion från TypeScript" } });
      if (!motion.data) throw new Error(`motion: ${JSON.stringify(motion.error)}`);
      out.motion = motion.data.id;
      const etag = created.response?.headers.get("ETag") as string;
      const changed = await casesPartialUpdate({ ...auth, path: { id: created.data.id },
        headers: { ...auth.headers, "If-Match": etag },
        body: { title: "Ändrad från TypeScript" } });
      if (!changed.data) throw new Error(`patch: ${JSON.stringify(changed.error)}`);
      out.changed = changed.data.title;
      const stale = await casesPartialUpdate({ ...auth, path: { id: created.data.id },
        headers: { ...auth.headers, "If-Match": etag }, body: { title: "Förlorad" } });
      out.stale = [stale.response?.status,
                   stale.error && "title" in stale.error ? stale.error.title : null];
      // Subscribe to the motions' webhooks (the secret is shown only now), build a motion with
      // its authors and proposals by natural keys, then change its title and parts with
      // If-Match: the receiver is to be told of every change.
      const subscribed = await subscriptionsCreate({ ...auth, body: {
        name: "typescript", callback_url: process.env.CALLBACK_URL as string,
        collections: ["motions"] } });
      if (!subscribed.data) throw new Error(`subscribe: ${JSON.stringify(subscribed.error)}`);
      out.secret = subscribed.data.secret;
      out.subscription = subscribed.data.id;
      const built = await motionsCreate({ ...auth, body: {
        case: "ks2025/638", title: "Motion om cykelbanor från TypeScript",
        authors: [{ position: 1, person: "Jan Jonsson", party: "L" },
                  { position: 2, person: "anne-lie elfven" }],
        proposals: [{ number: 1, text: "att bygga cykelbanor" }] } });
      if (!built.data) throw new Error(`build: ${JSON.stringify(built.error)}`);
      out.built = { id: built.data.id, case: built.data.case.id,
        authors: built.data.authors.map(
          (a) => [a.position, "display" in a.person ? a.person.display : a.person.name]),
        proposals: built.data.proposals.map((x) => [x.number, x.text]) };
      const tag = built.response?.headers.get("ETag") as string;
      const reworded = await motionsPartialUpdate({ ...auth, path: { id: built.data.id },
        headers: { ...auth.headers, "If-Match": tag },
        body: { title: "Motion om cykelbanor", proposals: [
          { id: built.data.proposals[0].id, number: 1, text: "att bygga fler cykelbanor" },
          { number: 2, text: "att ploga dem först" }] } });
      if (!reworded.data) throw new Error(`reword: ${JSON.stringify(reworded.error)}`);
      out.reworded = { title: reworded.data.title,
        proposals: reworded.data.proposals.map((x) => [x.id, x.number, x.text]),
        etag_changed: reworded.response?.headers.get("ETag") !== tag };
      const lost = await motionsPartialUpdate({ ...auth, path: { id: built.data.id },
        headers: { ...auth.headers, "If-Match": tag }, body: { title: "Förlorad" } });
      out.motion_stale = lost.response?.status;
      console.log(JSON.stringify(out));
    }

    main().catch((error: unknown) => { console.error(error); process.exit(1); });
    """)


@pytest.fixture(scope="module")
def reload_register_afterwards(django_db_setup, django_db_blocker):
    """live_server tests end by emptying every table: load the seed register again."""
    yield
    with django_db_blocker.unblock():
        load_register()


def test_the_typescript_client_works_against_the_live_server(
        generated, reload_register_afterwards, live_server, webhook_worker, tmp_path):
    load_register()
    skottland = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    ks = skottland.registration_numbers.get(number="KS 2025/638").organisation
    voided = m.Case.objects.exclude(pk=skottland.pk).order_by("pk").first()
    m.Case.objects.filter(pk=voided.pk).update(voided_at=m.Case.objects.first().modified)
    live = {str(pk) for pk in m.Case.objects.filter(voided_at__isnull=True).values_list(
        "pk", flat=True)}
    _, key = issue_token(name="TypeScript-klient", can_write=True)
    directory = tmp_path / "hey-api"
    shutil.copytree(generated["hey-api"], directory)
    (directory / "main.ts").write_text(MAIN_TS)
    tsc(directory, noEmit=False, outDir="dist")
    env = {**os.environ, "BASE_URL": f"{live_server.url}/api/v1", "TOKEN": key,
           "MUNICIPALITY": str(ks.municipality_id), "ORGANISATION": str(ks.pk),
           "CALLBACK_URL": webhook_worker.url("typescript")}
    out = json.loads(run(["node", "dist/main.js"], cwd=directory, env=env))
    assert out["filtered"] == [str(skottland.pk)]
    assert len(out["walked"]) == len(set(out["walked"])) and set(out["walked"]) == live
    assert sorted(out["documents"]) == sorted(skottland.documents.values_list("title", flat=True))
    assert out["tombstones"] == [str(voided.pk)] and out["sync_token"].isdigit()
    case = m.Case.objects.get(pk=out["created"])
    assert out["number"].startswith("KS 2026/")
    assert case.title == out["changed"] == "Ändrad från TypeScript"
    assert m.Motion.objects.get(pk=out["motion"]).case_id == case.pk
    assert out["stale"] == [412, "Precondition Failed"]
    assert sorted(out["case_documents"]) == sorted(
        str(pk) for pk in skottland.documents.filter(voided_at__isnull=True).values_list(
            "pk", flat=True))
    malmo = {str(pk) for pk in m.Case.objects.filter(
        municipality__name="Malmö", voided_at__isnull=True).values_list("pk", flat=True)}
    assert malmo and set(out["malmo"]) == malmo

    # The motion built with its parts by natural keys, then changed with If-Match.
    built = out["built"]
    assert built["case"] == str(skottland.pk)
    assert built["authors"] == [[1, "Jan Jönsson"], [2, "Anne-Lie Elfvén"]]
    assert built["proposals"] == [[1, "att bygga cykelbanor"]]
    motion = m.Motion.objects.get(pk=built["id"])
    assert motion.title == out["reworded"]["title"] == "Motion om cykelbanor"
    assert [(n, text) for _, n, text in out["reworded"]["proposals"]] == [
        (1, "att bygga fler cykelbanor"), (2, "att ploga dem först")]
    assert sorted(str(pk) for pk in motion.proposals.filter(voided_at__isnull=True)
                  .values_list("pk", flat=True)) == sorted(
        pk for pk, _, _ in out["reworded"]["proposals"])
    assert out["reworded"]["etag_changed"] is True and out["motion_stale"] == 412

    # Its webhooks: every change of the motion, verified with the secret the client was
    # given, in the order of the changes.
    events = m.Event.objects.filter(record_id=motion.pk,
                                    deliveries__subscription_id=out["subscription"])
    expected = [str(pk) for pk in events.order_by("audit_entry_id", "pk").values_list(
        "pk", flat=True)]
    assert len(expected) >= 2

    def arrived():
        messages, seen = [], set()
        for message in verified(webhook_worker.delivered("typescript"), out["secret"]):
            if message["subject"] == built["id"] and message["webhook_id"] not in seen:
                seen.add(message["webhook_id"])
                messages.append(message)
        return messages if len(messages) >= len(expected) else None

    messages = wait_for(arrived, "the TypeScript motion's webhooks")
    assert [message["webhook_id"] for message in messages] == expected
    assert [message["data"]["action"] for message in messages] == ["created"] + [
        "updated"] * (len(expected) - 1)
    changed = {name for message in messages[1:] for name in message["data"]["changed_fields"]}
    assert {"title", "proposals"} <= changed, changed
