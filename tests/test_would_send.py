"""A dry run sends nothing, nor does the demo's simulated campaign: their treated rows are what they *would* send,
shown as that — never in a `sent` column — in `campaign list/show/tally` (--json: `sent` counts real sends only,
`would_send` the rest) and the console's campaign tables; and no real count includes them (issue 15)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from console.policy import budget, caps
from console.workspace import Workspace
from tests.cli_demo import copy_cli_demo
from tests.conftest import Cli

FROZEN = "2026-11-25T09:00:00+08:00"


@pytest.fixture(scope="module")
def _built_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo (300 users, its simulated past campaign) and a dry run of a new campaign beside it, built once for
    the module through the CLI as before (the tests here only read it; each gets a copy; the demo itself is the
    session's, tests/cli_demo.py). Checkpointed and closed, so the file alone is the whole database."""
    folder = tmp_path_factory.mktemp("would-send-demo")
    copy_cli_demo(folder / "winback.db", users=300, now=FROZEN)   # `winback demo --users 300 --no-tui`
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        for name in ("WINBACK_DB", "WINBACK_CONFIG"):
            mp.delenv(name, raising=False)
        mp.setenv("WINBACK_OPERATOR", "tester")
        mp.setenv("WINBACK_NOW", FROZEN)
        cli = Cli(folder / "winback.db")
        made = cli("campaign", "create", "nov", "--segment", "all", "--channel", "sms", "--template",
                   "nostalgic-sms-zh", "--holdout", "0")
        assert made.exit_code == 0, made.output
        assert cli("campaign", "launch", "nov").exit_code == 0
    db = Workspace.load(db=folder / "winback.db").open()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return folder / "winback.db"


@pytest.fixture
def demo(monkeypatch, cli, _built_demo: Path):
    """A private copy of the module's built demo at this test's database path."""
    monkeypatch.setenv("WINBACK_NOW", FROZEN)
    shutil.copy(_built_demo, cli.db_path)
    db = Workspace.load(db=cli.db_path).open()
    yield db
    db.close()


def _treated(db, name: str) -> int:
    return db.execute("SELECT COUNT(*) FROM sends s JOIN campaigns c ON c.id = s.campaign_id WHERE c.name = ? "
                      "AND s.status IN ('sent', 'delivered')", [name]).fetchone()[0]


def test_campaign_list_counts_them_as_would_send_never_as_sent(demo, cli):
    rows = {r["name"]: r for r in json.loads(cli("campaign", "list", "--json").stdout)}
    for name in ("simulated", "nov"):
        assert _treated(demo, name) > 0
        assert (rows[name]["sent"], rows[name]["would_send"]) == (0, _treated(demo, name)), name
    table = cli("campaign", "list").stdout
    header = " ".join(line for line in table.splitlines()[:2])
    assert "would" in header and "send" in header and " sent " not in header, table
    assert f"{_treated(demo, 'simulated'):,}" in table


def test_tally_and_show_head_the_column_would_send(demo, cli):
    for name in ("simulated", "nov"):
        tally = json.loads(cli("campaign", "tally", name, "--json").stdout)
        assert tally["would_send"] == _treated(demo, name) and tally["mode"] != "real"
        assert json.loads(cli("campaign", "show", name, "--json").stdout)["tally"]["would_send"] == tally["would_send"]
    for name, mode in (("simulated", "(simulated)"), ("nov", "(dry run)")):
        for out in (cli("campaign", "tally", name).stdout, cli("campaign", "show", name).stdout):
            assert mode in out and "would send" in out and "would cost" in out
            assert "┃ sent" not in out and " sent ┃" not in out, out


def test_no_real_count_includes_them(demo):
    for name in ("simulated", "nov"):
        cid = demo.execute("SELECT id FROM campaigns WHERE name = ?", [name]).fetchone()[0]
        assert budget.spent(demo, cid) == 0.0
    rule = caps.parse_rule("sms", "1/30d")
    users = [u for (u,) in demo.execute("SELECT DISTINCT user_id FROM sends WHERE status = 'sent' LIMIT 50")]
    assert users and all(caps.counting_dispatches(demo, u, rule, 1_800_000_000) == [] for u in users)


def test_the_console_tables_say_would(demo):
    from screens.format import sent_cell
    from screens.sources import campaign_rows

    rows = {r["name"]: r for r in campaign_rows(demo)}
    assert sent_cell(rows["simulated"]["sent"], rows["simulated"]["mode"]).plain.startswith("would ")
    assert sent_cell(rows["nov"]["sent"], rows["nov"]["mode"]).plain == f"would {_treated(demo, 'nov'):,}"
    assert sent_cell(5, "real").plain == "5"


async def test_the_console_campaign_tables_at_80x24(tmp_path, monkeypatch):
    from textual.widgets import DataTable

    from console.campaigns import control, model
    from screens.campaigns import CampaignsScreen
    from tests.test_tui_fit_width import NOW
    from tests.tui_helpers import demo_workspace, make_app, settle, wait_for

    ws = demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)
    db = ws.open()
    model.create(db, "nov", segment="all", channel="sms", template="nostalgic-sms-en", holdout=10)
    control.launch(db, ws.config, "nov")
    db.close()

    def cells(table: DataTable) -> dict[str, list[str]]:
        return {str(table.get_row_at(i)[0]): [getattr(c, "plain", str(c)) for c in table.get_row_at(i)]
                for i in range(table.row_count)}

    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        overview = app.screen.query_one("#campaign-table", DataTable)
        await wait_for(pilot, lambda: overview.row_count == 2, what="the overview's campaigns")
        await settle(pilot)
        for name, row in cells(overview).items():
            assert any(c.startswith("would ") and c[6:7].isdigit() for c in row), (name, row)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CampaignsScreen), what="the Campaigns list")
        listed = app.screen.query_one("#campaigns-table", DataTable)
        await wait_for(pilot, lambda: listed.row_count == 2, what="both campaigns")
        await settle(pilot)
        rows = cells(listed)
        assert "simulated" in rows["simulated"] and any(c.startswith("would ") for c in rows["simulated"])
        assert any(c.startswith("would ") for c in rows["nov"]), rows
