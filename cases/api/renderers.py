"""JSON responses encoded by orjson: the same JSON as DRF's JSONRenderer, several times faster.

DRF's renderer runs the standard library's encoder with a Python ``default`` hook; on a page
of hundreds of records encoding was a large share of a list's time. Here orjson encodes
dicts, lists, strings, numbers and UUIDs natively; everything else (dates, decimals, lazy
translations ...) goes through DRF's own encoder, so values come out as DRF writes them.
Pretty-printing (``Accept: application/json; indent=4``) and anything orjson refuses (such
as integers beyond 64 bits) fall back to DRF's renderer.
"""

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_ENCODER = JSONEncoder()
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


class FastJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            content = orjson.dumps(data, default=_ENCODER.default, option=_OPTIONS)
        except (orjson.JSONEncodeError, TypeError, ValueError):
            return super().render(data, accepted_media_type, renderer_context)
        # As DRF: U+2028 and U+2029 escaped, so the JSON is also valid JavaScript.
        for raw, escaped in _SEPARATORS:
            if raw in content:
                content = content.replace(raw, escaped)
        return content
