"""The embedded PostgreSQL: one server per data folder, data kept across restarts."""

import os
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg
import pytest

from caseregister import embedded_db

ROOT = Path(__file__).resolve().parent.parent
START = "from caseregister.embedded_db import database_url; import sys; " \
        "from pathlib import Path; print(database_url(Path(sys.argv[1])))"


@pytest.fixture
def data_dir():
    # Unix socket paths are short: keep the folder near the root.
    path = ROOT / "var" / f"pgtest-{os.getpid()}"
    yield path
    embedded_db.stop(path)
    subprocess.run(["rm", "-rf", str(path)], check=True)


def test_two_commands_started_at_once_share_one_server(data_dir):
    processes = [subprocess.Popen([sys.executable, "-c", START, str(data_dir)], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    urls = [p.communicate(timeout=120)[0].strip() for p in processes]
    assert all(p.returncode == 0 for p in processes), [p.stderr for p in processes]
    assert urls[0] == urls[1]
    postmasters = [p for p in psutil.process_iter(["cmdline"])
                   if str(data_dir) in (p.info["cmdline"] or []) and "-D" in p.info["cmdline"]]
    assert len(postmasters) == 1
    pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    assert postmasters[0].pid == pid
    with psycopg.connect(urls[0]) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "caseregister"


def test_data_survives_a_restart_and_the_server_has_what_search_needs(data_dir):
    url = embedded_db.database_url(data_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (note text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    assert embedded_db.stop(data_dir)
    assert not embedded_db.stop(data_dir)
    url = embedded_db.database_url(data_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT note FROM kept").fetchone()[0] == "still here"
        conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        assert conn.execute("SELECT unaccent('Jönsson')").fetchone()[0] == "Jonsson"
        lexemes = conn.execute("SELECT to_tsvector('swedish', 'samverkansmodellerna')"
                               ).fetchone()[0]
        assert "samverkansmodell" in lexemes
