"""The CLI's tables (console/cli/output.py, rule in console/column_fit.py): off a terminal every cell whole, at
whatever width that takes; on a terminal, names and counts are never cut, free text wraps in its cell, and the
columns a listing names step aside (the first named first) before anything would be cut."""

from __future__ import annotations

import json

from rich.cells import cell_len

from console.cli.output import emit_rows
from tests.cli_terminal import terminal_of

ROWS = [
    {"name": "spring-festival-greetings-everyone", "segment": "warm-regular-big-spenders", "channel": "sms",
     "recipients": 1_234_567, "note": "sent in three waves over the long weekend, the last one to the VIP list"},
    {"name": "vip", "segment": "vip", "channel": "email", "recipients": 12, "note": None},
]


def _widest(text: str) -> int:
    return max(cell_len(line) for line in text.splitlines())


def test_off_a_terminal_every_cell_is_whole_on_its_line(capsys):
    emit_rows(ROWS, as_json=False, drop=["segment"])
    out = capsys.readouterr().out
    assert "…" not in out and "segment" in out.splitlines()[0]
    first = out.splitlines()[2]
    assert ROWS[0]["name"] in first and "1,234,567" in first and str(ROWS[0]["note"]) in first
    assert _widest(out) > 80   # no assumed 80 columns


def test_on_a_narrow_terminal_text_wraps_and_the_named_columns_step_aside(capsys, monkeypatch):
    terminal_of(monkeypatch, 66)
    emit_rows(ROWS, as_json=False, drop=["segment", "channel"])
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert "…" not in captured.out and _widest(captured.out) <= 66
    assert lines[0].split() == ["name", "┃", "recipients", "┃", "note"]
    assert lines[2].split()[:4] == [ROWS[0]["name"], "│", "1,234,567", "│"]
    words = " ".join(line.split("│")[-1].strip() for line in lines[2:-1])
    assert words.split() == str(ROWS[0]["note"]).split()   # wrapped over a few lines, every word there
    assert "segment, channel: not shown at 66 columns" in captured.err


def test_when_even_names_and_counts_do_not_fit_nothing_is_cut(capsys, monkeypatch):
    terminal_of(monkeypatch, 30)
    emit_rows(ROWS, as_json=False, columns=["name", "recipients"])
    out = capsys.readouterr().out
    assert "…" not in out and ROWS[0]["name"] in out and "1,234,567" in out   # the terminal wraps the line


def test_a_piped_templates_list_shows_each_whole_preview(cli, db):
    from console.config import Config
    from fixtures.copy import install

    install(db, Config())
    out = cli("templates", "list").stdout
    listed = json.loads(cli("templates", "list", "--json").stdout)
    assert "…" not in out
    for t in listed:
        assert " ".join((t["preview"] or "").split()) in out, t["name"]


def test_a_piped_segments_list_keeps_each_rule_and_description_on_its_line(cli):
    description = "three orders or more, living in the east or the south: the spring festival's VIP list"
    assert cli("segments", "create", "south-east-big-spenders", "--rule", "orders >= 3 and region in (华东, 华南)",
               "--description", description).exit_code == 0
    out = cli("segments", "list").stdout
    [line] = [line for line in out.splitlines() if "south-east-big-spenders" in line]
    assert "region in (华东, 华南)" in line and description in line
