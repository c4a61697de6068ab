"""JSON request bodies parsed with a nesting limit: a malicious body is a 400, never a 500.

DRF's JSONParser uses the standard library's parser, which recurses once per ``[`` or ``{``:
``'[' * 10000 + ']' * 10000`` raised RecursionError, a 500. orjson (already used to render)
parses without Python recursion and stops at 1024 levels; anything deeper than a record ever
needs is refused here too (``MAX_DEPTH``), because a 1000-deep value that parses would still
overflow Python's recursion in any code that walks it later (repr, copy, validation).
orjson is also strict where the standard library is lenient: no NaN or Infinity, no lone
surrogates (which PostgreSQL would refuse later), only valid UTF-8.
"""

import codecs

import orjson
from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# A record is an object of scalars and lists of ids; 32 levels leave ample room.
MAX_DEPTH = 32


def too_deep(data, limit: int = MAX_DEPTH) -> bool:
    """Whether ``data`` nests lists or objects more than ``limit`` levels deep (walked
    without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, (dict, list)))
    return False


def loads(content: bytes | str, what: str = "The body"):
    """Parse JSON or raise ParseError (a 400 problem) saying what is wrong."""
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"{what} is not valid JSON: {exc}") from exc
    if too_deep(data):
        raise ParseError(f"{what} nests lists or objects more than {MAX_DEPTH} levels deep.")
    return data


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, on orjson with a nesting limit."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        content = stream.read() if stream is not None else b""
        try:
            if codecs.lookup(encoding).name != "utf-8":
                content = content.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise ParseError(f"The body is not valid {encoding}.") from exc
        return loads(content)
