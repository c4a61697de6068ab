"""models_docs/README.md carries the current data-model diagram."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cases import diagram
from cases.models import Case


def test_the_committed_diagram_matches_the_models():
    assert diagram.current() == diagram.render()
    call_command("model_diagram", check=True)


def test_the_diagram_shows_every_model_and_relation():
    rendered = diagram.render()
    assert "    Case {" in rendered
    assert '    RegistrationNumber }o--|| Case : "case"' in rendered
    assert '    Organisation }o--o| Organisation : "parent"' in rendered
    for field in Case._meta.concrete_fields:
        if field.name not in ("created", "modified"):
            assert f" {field.attname}" in rendered


def test_a_stale_diagram_fails_the_check(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    stale = diagram.README.read_text().replace("    Case {", "    Case {\n        string gone")
    readme.write_text(stale)
    monkeypatch.setattr(diagram, "README", readme)
    with pytest.raises(CommandError, match="stale"):
        call_command("model_diagram", check=True)
    assert diagram.write() is True
    call_command("model_diagram", check=True)
