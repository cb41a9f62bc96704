"""`winback consent show USER --json` carries machine values: the status as stored ("unknown" when nothing is
recorded), the channel's unknown_consent setting, and whether consent lets a send through — not the table's
display string "unknown (deny)"."""

from __future__ import annotations

import json

from tests.policy_support import add_user


def shown(cli, user: str) -> dict[str, dict]:
    result = cli("consent", "show", user, "--json")
    assert result.exit_code == 0, result.output
    return {row["channel"]: row for row in json.loads(result.stdout)}


def test_json_says_unknown_and_the_setting_apart(db, cli, workspace, tmp_path):
    add_user(db, "u1", consent={"sms": "granted", "email": "withdrawn"})
    rows = shown(cli, "u1")
    assert {k: rows["sms"][k] for k in ("status", "unknown_consent", "allowed", "source")} == {
        "status": "granted", "unknown_consent": "deny", "allowed": True, "source": "test"}
    assert (rows["email"]["status"], rows["email"]["allowed"]) == ("withdrawn", False)
    assert {k: rows["push"][k] for k in ("status", "unknown_consent", "allowed", "at", "source")} == {
        "status": "unknown", "unknown_consent": "deny", "allowed": False, "at": None, "source": None}
    (tmp_path / "winback.toml").write_text('[channels.push]\nunknown_consent = "allow"\n', encoding="utf-8")
    rows = shown(cli, "u1")
    assert (rows["push"]["status"], rows["push"]["unknown_consent"], rows["push"]["allowed"]) == (
        "unknown", "allow", True)
    # A withdrawal stays a refusal whatever the channel says about the unknown.
    assert (rows["email"]["unknown_consent"], rows["email"]["allowed"]) == ("deny", False)


def test_the_table_still_says_what_unknown_means(db, cli):
    add_user(db, "u1", consent={"sms": "granted"})
    result = cli("consent", "show", "u1")
    assert result.exit_code == 0, result.output
    assert "unknown (deny)" in result.stdout
