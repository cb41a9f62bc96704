"""The console and a bad winback.toml met while sending (console.config.ConfigError): a dry-run launch from the
campaigns list is answered with the file's fault in words — not "a bug in winback", and not a send 'completed'
with everyone skipped as a render error — and nobody is recorded."""

from __future__ import annotations

from console.campaigns import model
from screens.dialogs import ErrorDialog
from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config
from tests.tui_helpers import error_dialog_shown, make_app, settle, text_of, wait_for


async def test_a_dry_run_launch_stopped_by_a_bad_sms_mode_says_so_in_words_and_records_nobody(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_NOW", "2026-12-07T10:00:00+08:00")
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    cfg = write_config(tmp_path / "winback.toml", {"sms": {"transport": "csv", "price": 0.04, "mode": "bogus"}})
    ws = load_workspace(cfg)
    db = ws.open()
    add_users(db, 3)
    add_template(db, ws.config, SMS_TEMPLATE)
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    app = make_app(ws)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("l")
        await wait_for(pilot, lambda: error_dialog_shown(app), what="the launch's answer")
        assert isinstance(app.screen, ErrorDialog) and not app.screen.hint   # the operator's error, not a bug
        said = text_of(pilot, "#error-message")
        assert "[channels.sms] mode: 'bogus'" in said and "winback.toml" in said
    assert model.get(db, "c").status == "running"   # waiting for the fixed file: resume sends them
    assert db.execute("SELECT status, COUNT(*) FROM sends GROUP BY status").fetchall() == [("planned", 3)]
