"""What the OpenAPI document says beyond drf-spectacular's defaults, so that it tells the truth.

A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) that:

- documents the responses every operation can give besides its own: 304 to a GET with a
  matching If-None-Match, 503 when the database is unavailable (with Retry-After), and 429
  everywhere (throttling, also of failed authentications); 412/428 on every write;
- writes down the rules of the text fields the service applies: DRF trims surrounding
  whitespace before checking a length (so "   " is blank), and refuses NUL characters
  (PostgreSQL cannot store them), in query parameters as in bodies;
- states the cross-field rules of the write bodies (a confidential record needs a legal
  basis and a public title; a decision's follow-up date and its precision come together);
- adds OpenAPI links, so that a client (and Schemathesis's stateful phase) knows how the
  answer to one request feeds the next: a created record's id and ETag lead to reading,
  changing (If-Match) and voiding it, and its id into the body of the records that hang off
  it (a new case's documents, a new referral's responses ...).

- makes the document one that code generators turn into clients that compile and type-check
  (openapi-python-client under mypy, openapi-typescript, @hey-api/openapi-ts and orval under
  tsc; tests/test_clients.py): a tag with a description per collection, a summary on every
  operation, a choice field that may be blank typed as one enum that includes "" (not
  drf-spectacular's ``oneOf: [XEnum, BlankEnum]``, whose object spread orval emits before the
  enum it spreads), and no component named like one of its own properties (openapi-python-client
  names the local variable of ``from_dict`` after both: ``Sector.sector`` fails mypy).

Kept here rather than in each view's annotations because the rules are the same for every
collection, and a new collection gets them without anyone remembering to.
"""

import re
import sys

# The characters Python's str.strip() removes (str.isspace), which DRF's CharField strips
# before checking lengths and blankness: spelled out, since "\s" differs between Python's
# and other regex engines (U+001C..U+001F are whitespace to Python only).
WHITESPACE = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())


def _char_class(chars: str) -> str:
    """A regex character class body for ``chars``, as ranges of \\uXXXX escapes."""
    codes = sorted(ord(c) for c in chars)
    ranges, start, end = [], codes[0], codes[0]
    for code in codes[1:]:
        if code == end + 1:
            end = code
            continue
        ranges.append((start, end))
        start = end = code
    ranges.append((start, end))
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


ANY = "[^\\u0000]"  # any character but NUL
SOLID = f"[^\\u0000{_char_class(WHITESPACE)}]"  # neither NUL nor whitespace


def text_pattern(min_length: int) -> str:
    """A pattern for text that DRF accepts: no NUL, and at least ``min_length`` characters
    between the first and the last that are not whitespace."""
    if min_length <= 0:
        return f"^{ANY}*$"
    if min_length == 1:
        return f"^{ANY}*{SOLID}{ANY}*$"
    return f"^{ANY}*{SOLID}{ANY}{{{min_length - 2},}}{SOLID}{ANY}*$"


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_MEDIA = "application/problem+json"

GENERIC_RESPONSES = {
    "429": "Too many requests from this client (also after repeated failed "
           "authentications): wait Retry-After seconds.",
    "503": "The database is unavailable: retry after Retry-After seconds.",
}
URI_TOO_LONG = {
    "description": "The URL is longer than the server takes (a request line of 8190 bytes, "
                   "gunicorn's limit): send fewer or shorter parameters."}
WRITE_RESPONSES = {
    "412": "The record changed since the version If-Match names (a record's ETag is "
           "`\"<version>-<digest>\"`; only the version is compared, so a change of a linked "
           "record shown in brief does not make it stale): GET it again, then retry.",
    "428": "If-Match is missing, or names no single version (`*`, a weak tag, a list): "
           "send the ETag of the version you read.",
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer", "minimum": 0},
                               "description": "Seconds to wait before retrying."}}


def _problem_response(description: str, retry: bool = False) -> dict:
    response = {"content": {PROBLEM_MEDIA: {"schema": PROBLEM_REF}}, "description": description}
    if retry:
        response["headers"] = RETRY_AFTER
    return response


def _document_responses(path: str, method: str, operation: dict) -> None:
    responses = operation.setdefault("responses", {})
    if method == "get":
        responses.setdefault("304", {
            "description": "Not modified: the ETag sent in If-None-Match is still current."})
    for status, description in GENERIC_RESPONSES.items():
        responses.setdefault(status, _problem_response(description, retry=True))
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        responses.setdefault("414", URI_TOO_LONG)
    if method in ("put", "patch", "delete"):
        for status, description in WRITE_RESPONSES.items():
            responses.setdefault(status, _problem_response(description))
    if method in ("post", "put", "patch") and "409" in responses:
        responses["409"]["description"] = (
            "The record is voided, or the write would duplicate a record the register keeps "
            "once (the same link twice, a second response of one body to one referral).")
    for status, response in responses.items():
        if status.startswith(("4", "5")) and "content" in response:
            response["content"] = {PROBLEM_MEDIA: next(iter(response["content"].values()))}
    operation["responses"] = dict(sorted(responses.items()))


# If-Match names the one version the client read: a single strong entity tag as the service
# sent it (RFC 9110 8.8.3), "<version>-<digest>" (cases.api.etags); `*`, weak tags and lists
# are refused with 428 (cases.api.writes), since none of them says which version a change
# was made to. Any other strong tag is well formed and answered 412 (it names no version).
IF_MATCH_PATTERN = '^"[\\u0021\\u0023-\\u007e]*"$'


def _text_rules(schema: dict) -> None:
    """Patterns for free text (no format, enum or pattern of its own), recursively."""
    if not isinstance(schema, dict):
        return
    if (schema.get("type") == "string" and "format" not in schema and "enum" not in schema
            and "pattern" not in schema):
        schema["pattern"] = text_pattern(schema.get("minLength", 0))
    for key in ("properties",):
        for value in schema.get(key, {}).values():
            _text_rules(value)
    if isinstance(schema.get("items"), dict):
        _text_rules(schema["items"])


CONFIDENTIAL_RULE = {
    "description": "A confidential record needs its legal basis and a public title.",
    "anyOf": [
        {"not": {"required": ["confidential"]}},
        {"properties": {"confidential": {"enum": [False]}}},
        {"required": ["confidentiality_basis", "public_title"],
         "properties": {"confidentiality_basis": {"pattern": text_pattern(1)},
                        "public_title": {"pattern": text_pattern(1)}}},
    ],
}


def _cross_field_rules(name: str, component: dict) -> None:
    """Rules between the fields of a write body, as JSON Schema can state them (for a
    partial update they hold together with the record's current values, which the schema
    cannot know; a full body is checked as it stands)."""
    props = component.get("properties", {})
    if {"confidential", "confidentiality_basis", "public_title"} <= set(props):
        component.setdefault("allOf", []).append(CONFIDENTIAL_RULE)


def _links(result: dict) -> None:
    """Links from a create's (or update's) answer to the operations on the record it returns,
    and from a new record into the create bodies of the records that refer to it."""
    by_id = {op["operationId"]: (path, method) for path, item in result["paths"].items()
             for method, op in item.items() if isinstance(op, dict) and "operationId" in op}
    for path, item in result["paths"].items():
        for method, operation in item.items():
            op_id = operation.get("operationId", "") if isinstance(operation, dict) else ""
            if method not in ("post", "put", "patch") or "{" in path and method == "post":
                continue
            collection = op_id.rsplit("_", 1)[0] if method == "post" else op_id.rsplit(
                "_", 2 if op_id.endswith("_partial_update") else 1)[0]
            status = "201" if method == "post" else "200"
            links = {}
            ident = {"path.id": "$response.body#/id"}
            versioned = {**ident, "header.If-Match": "$response.header.ETag"}
            for target, params, name in (
                    (f"{collection}_retrieve", ident, "Read"),
                    (f"{collection}_partial_update", versioned, "Change"),
                    (f"{collection}_update", versioned, "Replace"),
                    (f"{collection}_destroy", versioned, "Void"),
                    (f"{collection}_history_list", ident, "History"),
                    (f"{collection}_links", ident, "Links"),
                    (f"{collection}_timeline", ident, "Timeline")):
                if target in by_id:
                    links[name] = {"operationId": target, "parameters": params,
                                   "description": f"{name} the record just written."}
            if method == "post":
                for child, field in REFERRING.get(collection, ()):
                    if f"{child}_create" in by_id:
                        links[f"Create{child.title().replace('_', '')}"] = {
                            "operationId": f"{child}_create",
                            "requestBody": {field: "$response.body#/id"},
                            "description": f"Create a record whose {field} is this one."}
            response = operation.get("responses", {}).get(status)
            if response is not None and links:
                response["links"] = links


# Create operations whose body refers to a record of this collection: (collection, field).
REFERRING = {
    "cases": [("documents", "case"), ("motions", "case"), ("referrals", "case"),
              ("decisions", "case"), ("activities", "case")],
    "referrals": [("referral_responses", "referral")],
    "documents": [("referral_responses", "document"), ("decisions", "document")],
    "motions": [("referrals", "motion")],
}


def _one_of_distinct(node):
    """``oneOf`` with the same schema twice (a record's full and brief form that are one
    component, e.g. Passage) matches both alternatives, which oneOf forbids: keep one."""
    if isinstance(node, dict):
        if "oneOf" in node:
            distinct = []
            for option in node["oneOf"]:
                if option not in distinct:
                    distinct.append(option)
            if len(distinct) == 1:
                del node["oneOf"]
                if "$ref" in distinct[0] and len(node) > 0:
                    node["allOf"] = distinct
                else:
                    node.update(distinct[0])
            else:
                node["oneOf"] = distinct
        for value in node.values():
            _one_of_distinct(value)
    elif isinstance(node, list):
        for value in node:
            _one_of_distinct(value)


def english_names(model) -> tuple[str, str, str]:
    """(singular, plural, "a"/"an") of a model in English, whatever language is active: the
    API and its schema speak English, while verbose names read in the admin's Swedish."""
    from django.utils import translation

    with translation.override("en"):
        singular, plural = str(model._meta.verbose_name), str(model._meta.verbose_name_plural)
    return singular, plural, "an" if singular[0] in "aeiou" else "a"


def _tags(result: dict) -> None:
    """One tag per collection, described, in the order of the API's paths (every operation is
    tagged with its collection by drf-spectacular; generated clients group by tag)."""
    from .registry import resource_for
    from .views import VIEWSETS

    described = {}
    for viewset in VIEWSETS:
        model = viewset.model
        doc = (model.__doc__ or "").strip().splitlines()[0]
        writable = "create, change and void them; " if hasattr(viewset, "write_serializer") \
            else ""
        described[resource_for(model).collection] = (
            f"{doc} List them (records only), follow their change feed (records and "
            f"tombstones, for mirrors), read one; {writable}read a record's history and links.")
    described["api-info"] = "What this API is: name, version, status, contact, documentation."
    described["search"] = "Full-text search across cases, documents, motions and referrals."
    described["subscriptions"] = (
        "Webhook subscriptions of your client system: which changes (collection, action, "
        "organisation, municipality) are pushed to your callback URL as signed CloudEvents; "
        "rotate the signing secret, redeliver a failed message, read the delivery log.")
    used = []
    for item in result["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                for tag in operation.get("tags", []):
                    if tag not in used:
                        used.append(tag)
    result["tags"] = [{"name": tag, "description": described[tag]} for tag in sorted(used)]


def _blank_choices(result: dict) -> None:
    """drf-spectacular's ``oneOf: [XEnum, BlankEnum, NullEnum]`` for a choice field that may be
    blank or null becomes one enum: ``XOrBlankEnum`` whose values include "" when it may be
    blank, ``nullable`` when it may be null."""
    schemas = result.get("components", {}).get("schemas", {})
    blank, null = "#/components/schemas/BlankEnum", "#/components/schemas/NullEnum"
    added: dict = {}

    def rewrite(node):
        if isinstance(node, dict):
            refs = [o.get("$ref") for o in node.get("oneOf", []) if isinstance(o, dict)]
            if blank in refs or null in refs:
                (base,) = [r for r in refs if r not in (blank, null)]
                name = base.rsplit("/", 1)[1]
                if blank in refs:
                    enum = schemas[name]
                    name = name.removesuffix("Enum") + "OrBlankEnum"
                    added.setdefault(name, {**enum, "enum": [*enum["enum"], ""]})
                del node["oneOf"]
                node["allOf"] = [{"$ref": f"#/components/schemas/{name}"}]
                if null in refs:
                    node["nullable"] = True
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)

    rewrite(result.get("paths", {}))
    rewrite(schemas)
    schemas.update(added)
    for name in ("BlankEnum", "NullEnum"):
        schemas.pop(name, None)
    result["components"]["schemas"] = dict(sorted(schemas.items()))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _no_component_named_as_its_property(result: dict) -> None:
    """Rename a component that has a property of its own (snake-cased) name: Sector.sector
    becomes CollaborationSector (the model's name), others get "Part" appended."""
    schemas = result.get("components", {}).get("schemas", {})
    renames = {}
    for name, component in schemas.items():
        if _snake(name) in component.get("properties", {}):
            renames[name] = COMPONENT_RENAMES.get(name, f"{name}Part")
    if not renames:
        return
    for old, new in renames.items():
        schemas[new] = schemas.pop(old)
    refs = {f"#/components/schemas/{old}": f"#/components/schemas/{new}"
            for old, new in renames.items()}

    def rewrite(node):
        if isinstance(node, dict):
            if node.get("$ref") in refs:
                node["$ref"] = refs[node["$ref"]]
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)

    rewrite(result)
    result["components"]["schemas"] = dict(sorted(schemas.items()))


COMPONENT_RENAMES = {"Sector": "CollaborationSector"}

# Parameters of the plain list that make it answer as the change feed (tombstones): the
# list still takes them (mirrors written before the feed had its own path), the schema
# documents them on the feed only, so that the list's results are typed as records.
FEED_ONLY = {"modified_since"}

SEARCH_SUMMARY = "Search the register"


TRACEPARENT_FORM = "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
# No pattern on the request's header: one not well formed is ignored (W3C Trace Context says
# so: a new trace starts), not refused, so the schema must not call it invalid.
TRACEPARENT = {
    "name": "traceparent", "in": "header", "required": False,
    "description": "W3C Trace Context (`00-<trace id>-<span id>-<flags>`): the caller's trace, "
                   "continued by this request (its response's traceparent, and the webhook "
                   "messages its changes cause, carry the same trace id). One not well formed "
                   "is ignored and a new trace started.",
    "schema": {"type": "string"},
}
TRACEPARENT_HEADER = {
    "description": "W3C Trace Context: this request's place in the caller's trace, or a new "
                   "trace when none was sent.",
    "schema": {"type": "string", "pattern": TRACEPARENT_FORM},
}
# Examples of instants and dates, for every date-time and date property (DIGG DOT.02/DOT.04):
# the format the API writes, UTC with Z; a date without a time where no time is meant.
EXAMPLES = {"date-time": "2026-11-30T12:51:29.177159Z", "date": "2025-03-17"}
SUCCESS = {"200": "The record, or the page of records, asked for.",
           "201": "Created: the new record.", "204": "Done; no content."}


def _traced(operation: dict) -> None:
    """DIGG's REST API profile SPA.02/SPA.04: every operation takes traceparent and every
    response carries it (cases.context.RequestContextMiddleware)."""
    operation.setdefault("parameters", []).append(dict(TRACEPARENT))
    for status, response in operation.get("responses", {}).items():
        response.setdefault("headers", {})["traceparent"] = {
            "$ref": "#/components/headers/traceparent"}
        if not response.get("description"):
            response["description"] = SUCCESS.get(status, status)


def _examples(node) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") in EXAMPLES:
            node.setdefault("example", EXAMPLES[node["format"]])
        for value in node.values():
            _examples(value)
    elif isinstance(node, list):
        for value in node:
            _examples(value)


def postprocess(result, generator, request, public):
    """drf-spectacular postprocessing hook: see the module's docstring."""
    from .filters import TEXT_MAX, BoundedCharFilter
    from .views import VIEWSETS

    # Free-text filters take at most TEXT_MAX characters (django-filter's schema omits it).
    bounded = {name for viewset in VIEWSETS
               for name, f in viewset.filterset_class.base_filters.items()
               if isinstance(f, BoundedCharFilter)}
    _one_of_distinct(result)
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            _document_responses(path, method, operation)
            _traced(operation)
            if operation.get("operationId", "").endswith("_list"):
                # modified_since brings tombstones: a change feed parameter (see views.LISTS)
                operation["parameters"] = [p for p in operation.get("parameters", [])
                                           if p.get("name") not in FEED_ONLY]
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") == "header" and parameter["name"] == "If-Match":
                    schema["pattern"] = IF_MATCH_PATTERN
                if parameter.get("in") == "query":
                    if (operation.get("operationId", "").endswith(("_list", "_changes"))
                            and parameter["name"] in bounded and schema.get("type") == "string"):
                        schema.setdefault("maxLength", TEXT_MAX)
                    _text_rules(schema)
                    if schema.get("type") == "array":
                        schema.setdefault("minItems", 1)
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):  # bodies (COMPONENT_SPLIT_REQUEST)
            _text_rules(component)
            _cross_field_rules(name, component)
    _links(result)
    result["components"].setdefault("headers", {})["traceparent"] = TRACEPARENT_HEADER
    from .pagination import TOMBSTONE_SCHEMA

    result["components"]["schemas"]["Tombstone"] = TOMBSTONE_SCHEMA
    _examples(result["components"]["schemas"])
    _blank_choices(result)
    _no_component_named_as_its_property(result)
    _tags(result)
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == "search":
                operation.setdefault("summary", SEARCH_SUMMARY)
    return result


def expandable_paths(serializer_class, depth: int = 2) -> list[str]:
    """Every value of ``expand`` on this serializer down to ``depth`` levels (``documents``,
    ``documents.signatories`` ...), each a path the service accepts (cases.api.expand.walk)."""
    from rest_framework import serializers

    from .fields import Related

    paths = []
    for name, field in serializer_class().fields.items():
        if isinstance(field, Related):
            child = field.resource().full
        elif isinstance(field, serializers.ListSerializer):
            child = type(field.child)
        else:
            continue
        paths.append(name)
        if depth > 1:
            paths += [f"{name}.{sub}" for sub in expandable_paths(child, depth - 1)]
    return sorted(paths)
