"""`winback program show` (and the console's program page, by the same words) says a step's skip reasons so a
newcomer can read them: those its `only` rule did not match are 'not matching its only rule N' — a bare 'only N'
read as "only N were skipped"."""

from __future__ import annotations

from tests.test_programs_ladder import at_day, cli, db, ws  # noqa: F401 (fixtures)

PROGRAM = """\
name = "east"
entry = "all"
control = 0

[[steps]]
name = "call"
channel = "sms"
template = "miss-you"
only = "region = 华东"
"""


def test_program_show_names_the_only_rule_in_its_skip_line(ws, db, tmp_path, monkeypatch):  # noqa: F811
    path = tmp_path / "east.toml"
    path.write_text(PROGRAM, encoding="utf-8")
    assert cli(ws, "program", "add", str(path)).exit_code == 0
    db.execute("UPDATE users SET region = '华北'")
    db.conn.commit()
    users = db.execute("SELECT count(*) FROM users").fetchone()[0]
    assert cli(ws, "program", "start", "east").exit_code == 0
    at_day(monkeypatch, 1)
    assert cli(ws, "program", "run-due").exit_code == 0
    text = " ".join(cli(ws, "program", "show", "east").output.split())
    assert f"skipped at call: not matching its only rule {users:,}" in text, text


def test_the_console_says_a_skip_reason_in_the_same_words():
    from console.programs.funnel import skip_words

    assert skip_words({"only": 1234, "no_consent": 5}) == "no_consent 5, not matching its only rule 1,234"
    assert skip_words({"ranked_out": 2}) == "below its budget cut-off 2"
