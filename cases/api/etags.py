"""The ETag of a record: its version, and a digest of the representation sent.

``"<version>-<digest>"``, one strong entity tag:

- the **version** (``RegisterModel.version``, counted by the database) moves with every
  change of the record and of its parts, and only then. ``If-Match`` is satisfied when the
  version it names is the record's current one: renaming an organisation changes the brief
  embedded in each of its cases, but not their versions, so a client changing a case it read
  before the rename is not refused (before, the ETag was an MD5 of the JSON, and every
  integrating client got 412 after a rename elsewhere);
- the **digest** (of the bytes of the response) makes the tag differ whenever the body does,
  so that ``If-None-Match`` and HTTP caches never keep a representation whose embedded
  briefs of linked records changed, nor mix representations of different expansions.

Lists keep the plain MD5 of their body (``ConditionalGetMiddleware``): they are never a
precondition of a write.
"""

import hashlib
import re

from django.utils.http import quote_etag

RECORD_ETAG = re.compile(r'\A"(?P<version>[1-9][0-9]{0,9})-[0-9a-f]*"\Z')


def record_etag(version: int, content: bytes) -> str:
    """The ETag of a record's representation ``content`` at ``version``."""
    digest = hashlib.md5(content, usedforsecurity=False).hexdigest()[:16]
    return quote_etag(f"{version}-{digest}")


def version_named(if_match: str) -> int | None:
    """The version a strong tag from ``record_etag`` names; None for any other tag."""
    match = RECORD_ETAG.match(if_match)
    return int(match["version"]) if match else None


def tag_response(response, version: int) -> None:
    """Render ``response`` (a DRF response being finalized) and give it its record ETag."""
    response.render()
    response["ETag"] = record_etag(version, response.content)
