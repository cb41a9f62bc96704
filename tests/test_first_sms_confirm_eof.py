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
