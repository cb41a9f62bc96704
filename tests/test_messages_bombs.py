"""A template bomb that reaches a render (through data, or saved before the checks) fails that recipient with a
render error: preview says so, lint counts it, a dry-run launch completes — nothing hangs (issue 12.5)."""

from __future__ import annotations

import json

from tests.campaign_support import add_template, add_users

# Passes the save checks (the sample recipient has no `repeat` attribute); for a customer whose imported
# attribute says 99,999 the list is one item repeated, but 10^9 characters once printed.
DATA_BOMB = '''
name = "bomb"
channel = "sms"
body = "{% if user.attributes.repeat %}{{ ['x' * 9999] * user.attributes.repeat }}{% endif %}好久不见"
'''


def test_a_data_bomb_is_a_render_error_for_that_recipient_in_preview_lint_and_a_dry_run(cli, db, workspace):
    add_users(db, 3)
    db.execute("UPDATE users SET attributes = '{\"repeat\": 99999}' WHERE external_id = 'u2'")
    db.execute("UPDATE users SET attributes = '{\"repeat\": 0}' WHERE external_id != 'u2'")
    add_template(db, workspace.config, DATA_BOMB)

    hit = cli("preview", "bomb", "--user", "u2")
    assert hit.exit_code == 1 and "cannot render" in hit.output and "capped" in hit.output
    assert cli("preview", "bomb", "--user", "u1").exit_code == 0

    lint = cli("templates", "lint", "bomb", "--segment", "all", "--json")
    report = json.loads(lint.stdout)
    assert lint.exit_code == 1 and report["failed"] == 1 and report["rendered"] == 2

    assert cli("campaign", "create", "c", "--segment", "all", "--channel", "sms", "--template", "bomb",
               "--holdout", "0").exit_code == 0
    launched = cli("campaign", "launch", "c")
    assert launched.exit_code in (0, 1), launched.output
    status = db.execute("SELECT status FROM campaigns WHERE name = 'c'").fetchone()[0]
    assert status != "running"
    states = dict(db.execute("SELECT u.external_id, s.status FROM sends s JOIN users u ON u.id = s.user_id"))
    assert states["u2"] not in ("planned", "claimed", "sent") and states["u1"] == states["u3"]
