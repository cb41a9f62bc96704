"""Hostile rules at the command line (issue 12.4): refused at save with exit 2 and the column, and a bad rule an
older winback saved does not break `segments list`, `show` or `why`."""

from __future__ import annotations

import json

import pytest

from tests import segments_support as hand
from tests.segments_support import AS_OF

HOSTILE = {
    "deep": "(" * 3000 + "orders > 1" + ")" * 3000,
    "huge-number": "orders > " + "1" * 25,
    "alternatives": " or ".join(f"orders = {i}" for i in range(3000)),
}


@pytest.fixture
def ready(cli, db, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", AS_OF)
    hand.build(db)
    assert cli("refresh").exit_code == 0
    assert cli("segments", "create", "east", "--rule", "region = 华东").exit_code == 0
    return cli


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_rules_are_refused_at_save_with_the_column(ready, db, name):
    result = ready("segments", "create", name, "--rule", HOSTILE[name])
    assert result.exit_code == 2
    assert "rule, column " in result.output and "Traceback" not in result.output
    assert db.execute("SELECT count(*) FROM segments WHERE name = ?", [name]).fetchone()[0] == 0


def _save_as_an_older_winback_did(db, name: str, rule: dict) -> None:
    db.execute("INSERT INTO segments (name, rule, rule_text, preset, created_at, created_by, updated_at) "
               "VALUES (?, ?, ?, 0, 0, 'old', 0)", [name, json.dumps(rule), "(saved by an older winback)"])


def test_a_bad_rule_saved_earlier_does_not_break_list_show_or_why(ready, db):
    _save_as_an_older_winback_did(db, "huge", {"field": "orders", "op": ">", "value": int("1" * 25)})
    _save_as_an_older_winback_did(db, "wide", {"or": [{"field": "orders", "op": "=", "value": i}
                                                      for i in range(3000)]})
    listed = ready("segments", "list")
    assert listed.exit_code == 0
    assert "east" in listed.stdout
    said = " ".join(listed.stderr.split())        # rich wraps at the terminal width
    assert "segment 'huge' has a rule winback cannot use" in said
    assert "winback segments remove wide" in said
    rows = {r["name"]: r for r in json.loads(ready("segments", "list", "--json").stdout)}
    assert rows["east"]["users"] == 3 and rows["huge"]["users"] is None and "too large" in rows["huge"]["problem"]
    shown = ready("segments", "show", "wide")
    assert shown.exit_code == 2 and "more than 200 conditions" in " ".join(shown.output.split())
    why = ready("why", "c")
    assert why.exit_code == 0 and "east" in why.stdout
    assert ready("segments", "remove", "huge").exit_code == 0
    assert ready("segments", "remove", "wide").exit_code == 0
    assert ready("segments", "list").stderr == ""


def test_the_console_counts_the_other_segments_beside_a_bad_saved_rule(ready, db):
    from screens import sources

    _save_as_an_older_winback_did(db, "huge", {"field": "orders", "op": ">", "value": int("1" * 25)})
    assert sources.segment_counts(db, ["east", "huge"]) == {"east": 3, "huge": None}
