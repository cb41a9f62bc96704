"""`winback campaign launch NAME --real` with stdin at its end (`< /dev/null`, a script that forgot --yes): the
prompt got no answer and the CLI printed click's bare 'Aborted.' (exit 1), which says neither what happened nor
what to do."""

from __future__ import annotations

from typer.testing import CliRunner

from console.campaigns import model
from console.cli import app
from tests.test_provider_aliyun import _ledger, _server, _workspace


def test_a_real_launch_whose_confirmation_gets_no_answer_says_so_and_exits_2(tmp_path, monkeypatch):
    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=3)
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        result = CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path),
                                          "campaign", "launch", "c", "--real"], input="")
    text = " ".join(result.output.split())
    assert result.exit_code == 2, text
    assert "Aborted" not in text
    assert "no answer to the typed confirmation: nothing was sent" in text and "--yes" in text, text
    assert srv.state.taken == [] and _ledger(db, "c") == {}   # nothing frozen, nothing sent


def test_a_scheduled_real_send_whose_confirmation_gets_no_answer_says_the_draft_is_left(tmp_path, monkeypatch):
    with _server() as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url, users=3)
        result = CliRunner().invoke(app, ["--db", str(ws.db_path), "--config", str(ws.config.path),
                                          "campaign", "create", "c", "--segment", "all", "--channel", "sms",
                                          "--template", "care-ali", "--at", "2026-11-26 10:00", "--real"], input="")
    text = " ".join(result.output.split())
    assert "Aborted" not in text, text
    assert "created 'c' as a draft, NOT scheduled: no answer to the typed confirmation" in text, text
    assert "--yes" in text and result.exit_code != 0
    assert db.execute("SELECT status FROM campaigns WHERE name = 'c'").fetchone()[0] == "draft"
