"""Program files (issue #14): every mistake is named FILE:LINE: field, exit 2, nothing stored."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from console.cli import app
from console.errors import BadInput
from console.programs import spec
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config

GOOD = """\
name = "ladder"
entry = "all"
control = 10
exit_on = ["order"]
reentry = "180d"

[[steps]]
name = "nudge"
wait = "0d"
channel = "sms"
template = "miss-you"

[[steps]]
name = "offer"
wait = "7d"
channel = ["push", "sms"]
template = { push = "p", sms = "miss-you" }
offer_by_layer = true

[[steps]]
name = "call"
wait = "2w"
channel = "sms"
template = "miss-you"
only = "region = 华东"
"""


def test_a_good_file_parses_with_its_steps():
    p = spec.parse(GOOD, "ladder.toml")
    assert (p.name, p.entry, p.control_pct, p.exit_on, p.reentry_days) == ("ladder", "all", 10.0, ["order"], 180)
    assert [(s.name, s.wait_days, s.channels) for s in p.steps] == [
        ("nudge", 0, ["sms"]), ("offer", 7, ["push", "sms"]), ("call", 14, ["sms"])]
    assert p.steps[1].templates == {"push": "p", "sms": "miss-you"} and p.steps[1].offer_by_layer
    assert p.steps[2].only == "region = 华东"


@pytest.mark.parametrize(("old", "new", "where"), [
    ('channel = "sms"\ntemplate = "miss-you"\n\n[[steps]]\nname = "offer"',
     'channel = "fax"\ntemplate = "miss-you"\n\n[[steps]]\nname = "offer"', "ladder.toml:10: steps[1].channel: 'fax'"),
    ('wait = "7d"', 'wait = "a week"', "ladder.toml:15: steps[2].wait"),
    ("template = { push = \"p\", sms = \"miss-you\" }", 'template = { push = "p" }',
     "ladder.toml:17: steps[2].template: no template for channel 'sms'"),
    ("control = 10", "control = 150", "ladder.toml:3: control"),
    ('reentry = "180d"', 'reentry = "0d"', "ladder.toml:5: reentry"),
    ('only = "region = 华东"', 'onyl = "region = 华东"', "ladder.toml:25: steps[3].onyl: unknown field"),
    ('name = "call"', 'name = "nudge"', "ladder.toml:21: steps[3].name: step name 'nudge' is used twice"),
    ('exit_on = ["order"]', "exit_on = []", "ladder.toml:4: exit_on"),
    ('channel = ["push", "sms"]', 'channel = ["push", "sms"]\nchannel = "sms"', "ladder.toml:17: not valid TOML"),
])
def test_each_mistake_names_the_file_line_and_field(old, new, where):
    assert old in GOOD
    with pytest.raises(BadInput) as info:
        spec.parse(GOOD.replace(old, new, 1), "ladder.toml")
    assert str(info.value).startswith(where), str(info.value)


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = write_config(tmp_path / "winback.toml", {"sms": {}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, SMS_TEMPLATE)
    db.close()
    return ws


def _add(ws, tmp_path, text):
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(app, ["--config", str(ws.config.path), "--db", str(ws.db_path), "program", "add",
                                    str(path)]), str(path)


ONE_STEP = 'name = "p"\nentry = "{entry}"\n\n[[steps]]\nname = "s"\nchannel = "sms"\ntemplate = "{template}"\n'


@pytest.mark.parametrize(("entry", "template", "where"), [
    ("all", "nope", ":7: steps[1].template: no template named 'nope'"),
    ("dormancy = sleepy", "miss-you", ":2: entry: rule, column"),
    ("no_such_field > 3", "miss-you", ":2: entry:"),
])
def test_add_checks_names_against_the_workspace_exit_2_nothing_stored(ws, tmp_path, entry, template, where):
    result, path = _add(ws, tmp_path, ONE_STEP.format(entry=entry, template=template))
    assert result.exit_code == 2, result.output
    assert f"{path}{where}" in " ".join(result.output.split())
    db = ws.open()
    assert db.execute("SELECT COUNT(*) FROM programs").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM campaigns").fetchone()[0] == 0


def test_add_then_add_again(ws, tmp_path):
    result, _ = _add(ws, tmp_path, ONE_STEP.format(entry="all", template="miss-you"))
    assert result.exit_code == 0, result.output
    result, _ = _add(ws, tmp_path, ONE_STEP.format(entry="all", template="miss-you"))
    assert result.exit_code == 2 and "already exists" in result.output
    db = ws.open()
    assert [r[0] for r in db.execute("SELECT name FROM campaigns")] == ["program:p/s/sms"]
    assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'program.add'").fetchone()[0] == 1
