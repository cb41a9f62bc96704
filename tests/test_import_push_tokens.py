"""`winback import users` reads a `push_token` column: the address push and webhook campaigns send to.

Before, the column was kept among the attributes, so a push campaign on imported users skipped everyone as
`invalid address`. A token is opaque: kept as written (never lower-cased), refused with whitespace or invisible
characters inside or an absurd length (FILE:LINE: push_token: why, exit 2, nothing changed); an empty cell keeps the
stored token, as for phone and email.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from console.importing.batch import Batch
from console.importing.user_checks import _CONSENT_CELLS, _UNKNOWN, MAX_TEXT, USER_COLUMNS, RowValidator
from console.importing.user_columns import check_columns
from console.importing.user_tokens import MAX_PUSH_TOKEN
from tests.campaign_support import PUSH_TEMPLATE, add_template, load_workspace, write_config
from tests.servers import HttpGateway
from tests.test_import_user_columns import record

FCM = "dGVzdA:APA91bH-Xy_ZmQ9KpLr7TuVwAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
HEADER = "external_id,name,push_token,consent_push"


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def said(result) -> str:
    return " ".join(result.output.split())


def tokens(db) -> dict[str, str | None]:
    return dict(db.execute("SELECT external_id, push_token FROM users ORDER BY id").fetchall())


def test_tokens_are_stored_as_written_updated_on_reimport_and_kept_over_an_empty_cell(cli, db, tmp_path):
    first = write(tmp_path / "users.csv", [HEADER, f"u1,王芳, {FCM} ,yes", "u2,Li,ABCdef0123,yes", "u3,Zhao,,yes"])
    result = cli("import", "users", str(first))
    assert result.exit_code == 0, result.output
    assert tokens(db) == {"u1": FCM, "u2": "ABCdef0123", "u3": None}   # case kept, outer spaces dropped
    attributes = [a for (a,) in db.execute("SELECT attributes FROM users")]
    assert attributes == [None, None, None]   # the address, not an attribute
    assert dict(db.execute("SELECT u.external_id, c.status FROM consents c JOIN users u ON u.id = c.user_id"
                           " WHERE c.channel = 'push'").fetchall()) == {"u1": "granted", "u2": "granted",
                                                                         "u3": "granted"}

    # A new token replaces the stored one; an empty cell keeps it (as phone and email); a file without the column
    # leaves every token alone.
    second = write(tmp_path / "again.csv", [HEADER, "u1,王芳,,yes", "u2,Li,NEWtoken-2,yes", "u3,Zhao,t3,yes"])
    result = cli("import", "users", str(second), "--json")
    assert result.exit_code == 0, result.output
    assert (json.loads(result.stdout)["updated"], json.loads(result.stdout)["unchanged"]) == (2, 1)
    assert tokens(db) == {"u1": FCM, "u2": "NEWtoken-2", "u3": "t3"}
    assert cli("import", "users", str(write(tmp_path / "names.csv", ["external_id,name", "u2,Lee"]))).exit_code == 0
    assert tokens(db)["u2"] == "NEWtoken-2"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("tok en", "push_token: contains whitespace or an invisible character (U+0020) in 'tok en'"),
        ("tok\u00a0en", "push_token: contains whitespace or an invisible character (U+00A0)"),
        ("tok\u200ben", "push_token: contains whitespace or an invisible character (U+200B)"),
        ("\"tok\ten\"", "push_token: contains a control character (U+0009)"),   # the reader's check, as ever
        ("x" * (MAX_PUSH_TOKEN + 1), f"push_token: {MAX_PUSH_TOKEN + 1:,} characters long; a device token is at most"),
    ],
)
def test_a_cell_that_cannot_be_a_token_refuses_the_file_by_line_and_column(cli, db, tmp_path, cell, expected):
    path = write(tmp_path / "users.csv", [HEADER, "u1,王芳,good-token,yes", f"u2,Li,{cell},yes"])
    result = cli("import", "users", str(path), "--encoding", "utf-8")   # (auto reads this tiny file as GBK)
    assert result.exit_code == 2, result.output
    assert f"users.csv:3: {expected}" in said(result)
    assert "Traceback" not in result.output
    assert tokens(db) == {}


def test_a_long_web_push_token_is_read_and_a_saved_mapping_names_the_column(cli, db, tmp_path):
    config = tmp_path / "winback.toml"
    config.write_text('[import.mappings.crm.columns]\n"会员号" = "external_id"\n"设备令牌" = "push_token"\n',
                      encoding="utf-8")
    endpoint = "https://fcm.googleapis.com/fcm/send/" + "Ab-_9" * 150   # 786 characters: over the text limit of 500
    path = write(tmp_path / "crm.csv", ["会员号,设备令牌", f"m1,{endpoint}", "m2,Tok2"])
    result = cli("--config", str(config), "import", "users", str(path), "--mapping", "crm")
    assert result.exit_code == 0, result.output
    assert tokens(db) == {"m1": endpoint, "m2": "Tok2"}
    jsonl = tmp_path / "users.jsonl"
    jsonl.write_text('{"external_id": "m2", "push_token": "Tok2-B"}\n', encoding="utf-8")
    assert cli("import", "users", str(jsonl)).exit_code == 0
    assert tokens(db)["m2"] == "Tok2-B"


def test_the_column_wise_check_of_tokens_agrees_with_the_row_validator():
    validate = RowValidator("CN", "Asia/Shanghai")
    cells = ["AbC", " padded ", "", "two words", "zero\u200bwidth", "y" * 600, "z" * (MAX_PUSH_TOKEN + 1)]
    records = [record(ext=f"u{j}", token=cell) for j, cell in enumerate(cells)]
    positions = [USER_COLUMNS.index(c) for c in ("name", "phone", "push_token")]
    batch = Batch(values=records, raws=["r"] * len(records), lines=range(2, 2 + len(records)))
    columns, valid, bad = check_columns(batch, validate, positions, 1, MAX_TEXT, _CONSENT_CELLS, _UNKNOWN)
    assert columns[3] == ("AbC", "padded", None, "y" * 600)
    assert valid == 4 and [(line, [c for c, _ in found]) for line, found, _ in bad] == [
        (5, ["push_token"]), (6, ["push_token"]), (8, ["push_token"])]
    assert [validate(r)[2] for r in records[3:5]] == [found for _, found, _ in bad[:2]]


def test_imported_tokens_reach_a_push_campaign_dry_and_real(cli, db, tmp_path, monkeypatch):
    """The loop an operator runs: import users with tokens, plan and dry-run a push campaign, launch it for real
    against a webhook (the local HTTP gateway): each token gets its message once; the user with no token is the
    only invalid address."""
    from console.campaigns import control, model, plan

    lines = [HEADER, *(f"u{i},用户{i},Tok{i}-xYz,yes" for i in range(1, 6)), "u6,无令牌,,yes"]
    with HttpGateway() as gw:
        config = write_config(tmp_path / "winback.toml", {"push": {
            "transport": "http", "url": gw.url, "backoff": 0.01, "success_field": "code", "success_value": "OK",
            "provider_id_field": "data.message_id",
            "body": '{"to": "{{ to }}", "title": "{{ title }}", "text": "{{ text }}", "id": "{{ message_id }}"}'}})
        result = cli("--config", str(config), "import", "users", str(write(tmp_path / "users.csv", lines)))
        assert result.exit_code == 0, result.output
        ws = load_workspace(config)
        add_template(db, ws.config, PUSH_TEMPLATE)
        for name in ("dry", "real"):
            model.create(db, name, segment="all", channel="push", template="miss-you-push", holdout=0)
        steps = {s["reason"]: s["count"] for s in plan.plan(db, ws.config, "real", real=True)["funnel"]}
        assert (steps["invalid_address"], steps["no_consent"], steps[None]) == (1, 0, 5)
        dry = control.launch(db, ws.config, "dry")
        assert dry.outcome == "completed" and not gw.state.accepted
        real = control.launch(db, ws.config, "real", real=True)

    assert real.outcome == "completed"
    assert Counter(m["to"] for m in gw.state.accepted) == {f"Tok{i}-xYz": 1 for i in range(1, 6)}
    assert {m["to"]: m["title"] for m in gw.state.accepted}["Tok1-xYz"] == "Hi 用户1"   # (sent concurrently)
    for name, dry_run in (("dry", 1), ("real", 0)):
        rows = db.execute("SELECT s.status, s.reason, s.address, s.dry_run FROM sends s"
                          " JOIN campaigns c ON c.id = s.campaign_id WHERE c.name = ?", [name]).fetchall()
        assert Counter(r[:2] for r in rows) == {("sent", None): 5, ("skipped", "invalid_address"): 1}, rows
        assert {r[2] for r in rows if r[0] == "sent"} == {f"Tok{i}-xYz" for i in range(1, 6)}
        assert {r[3] for r in rows} == {dry_run}


def test_the_consoles_import_takes_a_saved_mapping_to_push_token(workspace, tmp_path):
    """The Import screen runs the import with a saved mapping checked against the users import's columns."""
    from console.workspace import Workspace
    from screens.import_screen import run_import

    config = tmp_path / "winback.toml"
    config.write_text('[import.mappings.app]\n[import.mappings.app.columns]\n"Member" = "external_id"\n'
                      '"Device" = "push_token"\n', encoding="utf-8")
    ws = Workspace.load(config=config, db=workspace.db_path)
    path = write(tmp_path / "app.csv", ["Member,Device", "a1,Tok-A1"])
    result = run_import(ws, str(path), "users", None, "app", lambda *_: None, lambda _: None)
    assert result.inserted == 1
    db = ws.open()
    try:
        assert tokens(db) == {"a1": "Tok-A1"}
    finally:
        db.close()


def test_a_misspelt_push_token_in_a_saved_mapping_is_refused_with_the_right_name(cli, db, tmp_path):
    config = tmp_path / "winback.toml"
    config.write_text('[import.mappings.app.columns]\n"Member" = "external_id"\n"Device" = "pushtoken"\n',
                      encoding="utf-8")
    path = write(tmp_path / "app.csv", ["Member,Device", "a1,Tok-A1"])
    result = cli("--config", str(config), "import", "users", str(path), "--mapping", "app")
    assert result.exit_code == 2, result.output
    assert 'did you mean "push_token"?' in said(result) and "line 3" in said(result)
    assert tokens(db) == {}
