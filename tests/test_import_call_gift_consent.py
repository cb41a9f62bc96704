"""A users import reads `consent_call` and `consent_gift` as it reads the other consent columns: the phone team's
consent comes from the CRM export, so a call or gift list on imported users is not empty."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from console.errors import BadInput
from console.importing import import_users
from tests.campaign_support import add_template, load_workspace, write_config

HEADER = "external_id,name,phone,consent_call,consent_gift"
USERS = [
    "u1,王芳,13800000001,是,yes",      # both granted
    "u2,李雷,13800000002,no,否",       # both withdrawn
    "u3,张三,13800000003,,",           # no word: no consent row (deny)
    "u4,赵四,13800000004,1,",          # call only
]


@pytest.fixture
def imported(tmp_path):
    cfg = write_config(tmp_path / "winback.toml", {
        "call": {"transport": "csv", "path": "exports/call-{campaign}.csv"},
        "gift": {"transport": "csv", "path": "exports/gift-{campaign}.csv"}})
    ws = load_workspace(cfg)
    db = ws.open()
    users = tmp_path / "users.csv"
    users.write_text("\n".join([HEADER, *USERS]) + "\n", encoding="utf-8")
    result = import_users(db, users, config=ws.config)
    assert result.inserted == 4
    return ws, db, tmp_path


def _history(db) -> set[tuple[str, str, str, str]]:
    return {tuple(r) for r in db.execute("SELECT u.external_id, c.channel, c.status, c.source FROM consents c"
                                         " JOIN users u ON u.id = c.user_id")}


def _launch(ws, db, channel: str, real: bool) -> list[str]:
    """The external ids a call or gift list campaign on every user reaches (its ledger)."""
    from console.campaigns import control, model

    add_template(db, ws.config, f'name = "{channel}1"\nchannel = "{channel}"\nbody = "回访 {{{{ user.name }}}}"\n'
                                'fields = ["user.name"]\n')
    model.create(db, f"{channel}-c", segment="all", channel=channel, template=f"{channel}1", holdout=0)
    control.launch(db, ws.config, f"{channel}-c", real=real)
    return sorted(r[0] for r in db.execute(
        "SELECT u.external_id FROM sends s JOIN users u ON u.id = s.user_id JOIN campaigns c ON c.id = s.campaign_id"
        " WHERE c.name = ? AND s.status IN ('sent', 'dry_run')", [f"{channel}-c"]))


def test_call_and_gift_cells_become_consent_history_as_the_other_channels(imported):
    _, db, _ = imported
    assert _history(db) == {
        ("u1", "call", "granted", "import:users.csv"), ("u1", "gift", "granted", "import:users.csv"),
        ("u2", "call", "withdrawn", "import:users.csv"), ("u2", "gift", "withdrawn", "import:users.csv"),
        ("u4", "call", "granted", "import:users.csv")}
    # nothing of them is left among the attributes
    assert {r[0] for r in db.execute("SELECT attributes FROM users")} == {None}


def test_a_dry_call_list_reaches_who_granted_call_and_not_who_withdrew(imported):
    ws, db, _ = imported
    assert _launch(ws, db, "call", real=False) == ["u1", "u4"]


def test_a_real_call_and_gift_list_write_the_granted_users_only(imported):
    ws, db, tmp_path = imported
    assert _launch(ws, db, "call", real=True) == ["u1", "u4"]
    assert _launch(ws, db, "gift", real=True) == ["u1"]
    calls = list(csv.DictReader((tmp_path / "exports" / "call-call-c.csv").open(encoding="utf-8-sig")))
    gifts = list(csv.DictReader((tmp_path / "exports" / "gift-gift-c.csv").open(encoding="utf-8-sig")))
    assert [r["external_id"] for r in calls] == ["u1", "u4"]
    assert [r["external_id"] for r in gifts] == ["u1"]


def test_a_later_file_withdrawing_call_takes_the_user_off_the_list(imported):
    ws, db, tmp_path = imported
    again = tmp_path / "crm.csv"
    again.write_text("external_id,consent_call\nu4,不同意\n", encoding="utf-8")
    assert import_users(db, again, config=ws.config).consents == 1
    assert ("u4", "call", "withdrawn", "import:crm.csv") in _history(db)
    assert _launch(ws, db, "call", real=False) == ["u1"]


def test_an_unknown_call_or_gift_word_is_refused_with_file_line_and_field(imported):
    ws, db, tmp_path = imported
    before = _history(db)
    bad = tmp_path / "bad.csv"
    bad.write_text("external_id,consent_call,consent_gift\nu3,yes,yes\nu3,yes,maybe\n", encoding="utf-8")
    with pytest.raises(BadInput) as refused:
        import_users(db, bad, config=ws.config)
    assert "bad.csv:3: consent_gift: 'maybe' is not a consent value" in str(refused.value), str(refused.value)
    assert _history(db) == before   # nothing written


def test_a_saved_mapping_and_the_console_may_name_the_new_columns(tmp_path):
    from console.importing.columns import winback_columns
    from console.importing.mappings import load_mapping

    cfg = write_config(tmp_path / "winback.toml", {})
    with cfg.open("a", encoding="utf-8") as fh:
        fh.write('\n[import.mappings.crm.columns]\n'
                 '"会员号" = "external_id"\n"电话回访" = "consent_call"\n"礼品" = "consent_gift"\n')
    ws = load_workspace(cfg)
    saved = load_mapping(ws.config, "crm", winback_columns("users"), "users")
    assert saved.columns == {"会员号": "external_id", "电话回访": "consent_call", "礼品": "consent_gift"}
    db = ws.open()
    crm = tmp_path / "crm.csv"
    crm.write_text("会员号,电话回访,礼品\nm1,同意,不同意\n", encoding="utf-8")
    import_users(db, crm, config=ws.config, saved=saved)
    assert _history(db) == {("m1", "call", "granted", "import:crm.csv"), ("m1", "gift", "withdrawn", "import:crm.csv")}


def test_a_jsonl_file_gives_call_consent_as_true_or_false(imported):
    ws, db, tmp_path = imported
    lines = tmp_path / "crm.jsonl"
    lines.write_text('{"external_id": "u3", "consent_call": true, "consent_gift": false}\n', encoding="utf-8")
    import_users(db, lines, config=ws.config)
    assert {("u3", "call", "granted", "import:crm.jsonl"), ("u3", "gift", "withdrawn", "import:crm.jsonl")} \
        <= _history(db)


def test_help_and_docs_name_the_new_columns():
    docs = Path(__file__).resolve().parent.parent / "docs"
    assert "`consent_call`, `consent_gift`" in (docs / "importing.md").read_text(encoding="utf-8")
    assert "records consent for sms, email and push only" not in (docs / "channels.md").read_text(encoding="utf-8")
    from typer.testing import CliRunner

    from console.cli import app

    out = " ".join(CliRunner().invoke(app, ["import", "users", "--help"], env={"COLUMNS": "1000"}).output.split())
    assert "consent_push, consent_call, consent_gift (yes/no" in out, out
