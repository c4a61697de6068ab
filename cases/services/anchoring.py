"""Anchor quoted passages in their source documents (W3C TextQuote + TextPosition selectors).

Fixture authors write only the words of a passage (``quote``); any run of whitespace in the
quote matches any run of whitespace in the document, so passages that wrap over lines in
PDF or OCR text can be quoted on one line. Anchoring replaces ``quote`` with the exact text
and its offsets, so that a reviewer and a test can check the passage is really there.

Run ``python -m cases.services.anchoring fixtures/*.yaml`` to anchor new quotes in place, or
with ``--check`` to verify every anchored passage without writing.
"""

import re
import sys
from pathlib import Path

import yaml

CONTEXT = 32
DOCS_DIR = Path(__file__).resolve().parents[2] / "models_docs"


class AnchorError(ValueError):
    """A quote is not in its document, or an anchored passage no longer matches."""


def find_passage(text: str, quote: str, *, occurrence: int = 1) -> tuple[int, int]:
    """Return (start, end) of the ``occurrence``-th match of ``quote`` in ``text``."""
    words = quote.split()
    if not words:
        raise AnchorError("empty quote")
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
    matches = list(pattern.finditer(text))
    if len(matches) < occurrence:
        found = f"found {len(matches)} times" if matches else "not found"
        raise AnchorError(f"quote {quote!r} {found}, occurrence {occurrence} wanted")
    match = matches[occurrence - 1]
    return match.start(), match.end()


def anchor(text: str, source: dict) -> dict:
    """Return ``source`` with exact/start/end/prefix/suffix filled in, or verified."""
    if "exact" in source:
        start, end, exact = source["start"], source["end"], source["exact"]
        if text[start:end] != exact:
            raise AnchorError(f"passage {exact!r} is not at {start}–{end}")
        expected_prefix = text[max(0, start - CONTEXT):start]
        expected_suffix = text[end:end + CONTEXT]
        if source.get("prefix") != expected_prefix or source.get("suffix") != expected_suffix:
            raise AnchorError(f"prefix/suffix of {exact!r} do not match the document")
        return source
    start, end = find_passage(text, source["quote"], occurrence=source.get("occurrence", 1))
    anchored = {k: v for k, v in source.items() if k not in ("quote", "occurrence")}
    anchored.update(
        exact=text[start:end], start=start, end=end,
        prefix=text[max(0, start - CONTEXT):start], suffix=text[end:end + CONTEXT],
    )
    return anchored


def read_document(name: str) -> str:
    """Text of a source document as stored in ``models_docs/``.

    Offsets count characters of the UTF-8 decoded file with newlines kept exactly as stored.
    """
    return (DOCS_DIR / name).read_bytes().decode("utf-8")


def anchor_file(path: Path, *, write: bool) -> int:
    """Anchor (or, without ``write``, verify) every source of a fixture file.

    Returns the number of passages newly anchored.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    default_doc = data.get("document")
    changed = 0
    for record in data.get("records", []):
        for i, source in enumerate(record.get("sources", [])):
            doc = source.get("document", default_doc)
            try:
                anchored = anchor(read_document(doc), source)
            except (AnchorError, KeyError) as exc:
                raise AnchorError(f"{path.name}: {record.get('key')}: {exc}") from exc
            if anchored is not source:
                if not write:
                    raise AnchorError(f"{path.name}: {record.get('key')}: quote not anchored")
                record["sources"][i] = anchored
                changed += 1
    if write and changed:
        path.write_text(dump_fixture(data), encoding="utf-8")
    return changed


def dump_fixture(data: dict) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def main(argv: list[str]) -> int:
    write = "--check" not in argv
    errors = 0
    for name in (a for a in argv if not a.startswith("--")):
        try:
            changed = anchor_file(Path(name), write=write)
            print(f"{name}: ok" + (f", {changed} passages anchored" if changed else ""))
        except AnchorError as exc:
            print(f"error: {exc}", file=sys.stderr)
            errors += 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
