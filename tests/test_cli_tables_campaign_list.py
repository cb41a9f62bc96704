"""`winback campaign list`: the name is what the operator types next (`campaign plan NAME`), so it is never cut —
not in a pipe, a file or cron's log (no assumed 80 columns: every cell whole), and not on an 80-column terminal,
where the less important columns (segment, channel, then mode) step aside and the counts stay whole."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from tests.campaign_support import SMS_TEMPLATE, add_template
from tests.cli_terminal import terminal_of

NAMES = ("nov-recall-dormant-vip-2026", "vip-dormant-reactivation-wave-two", "spring-festival-greetings-all")


@pytest.fixture
def campaigns(workspace, db) -> None:
    """Three campaigns with long names; the first completed for real with 12,345 recipients, 11,111 sent."""
    from console.campaigns import model

    db.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 12345) "
               "INSERT INTO users (id, external_id, name, phone, created_at, updated_at) "
               "SELECT i, 'u' || i, 'User ' || i, '+86138' || printf('%08d', i), 0, 0 FROM c")
    add_template(db, workspace.config, SMS_TEMPLATE)
    for name in NAMES:
        model.create(db, name, segment="all", channel="sms", template="miss-you", holdout=0)
    first = db.execute("SELECT id FROM campaigns WHERE name = ?", [NAMES[0]]).fetchone()[0]
    db.execute("UPDATE campaigns SET status = 'completed', dry_run = 0 WHERE id = ?", [first])
    db.execute("INSERT INTO sends (campaign_id, user_id, arm, channel, status, dry_run, counts_for_caps, updated_at) "
               "SELECT ?, id, 'A', 'sms', CASE WHEN id <= 11111 THEN 'sent' ELSE 'failed' END, 0, 1, 0 FROM users",
               [first])
    db.conn.commit()


def test_a_piped_campaign_list_shows_every_name_and_column_whole(cli, campaigns):
    result = cli("campaign", "list")   # CliRunner's stdout is not a terminal, like `| cat`, `> file`, cron
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    header = result.stdout.splitlines()[0].split()
    assert header[:6] == ["name", "┃", "segment", "┃", "channel", "┃"] and "mode" in header
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[2:]}
    assert set(lines) == set(NAMES)   # each on one line, whole
    assert "12,345" in lines[NAMES[0]] and "11,111" in lines[NAMES[0]] and "real" in lines[NAMES[0]]


def test_an_80_column_terminal_keeps_names_and_counts_whole(cli, campaigns, monkeypatch):
    terminal_of(monkeypatch, 80)
    result = cli("campaign", "list")
    assert result.exit_code == 0, result.output
    shown = result.stdout.splitlines()
    assert "…" not in result.stdout
    assert max(cell_len(line) for line in shown) <= 80
    assert shown[0].split() == ["name", "┃", "status", "┃", "mode", "┃", "recipients", "┃", "sent"]
    rows = {line.split()[0]: line.split() for line in shown[2:]}
    assert set(rows) == set(NAMES)
    assert rows[NAMES[0]] == [NAMES[0], "│", "completed", "│", "real", "│", "12,345", "│", "11,111"]
    assert "segment, channel: not shown at 80 columns" in result.stderr
