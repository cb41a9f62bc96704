"""The console's Deliveries screen answers "why did these fail?" as `winback campaign failures` does: the provider's
code and words per failed recipient, the code first (not cut off behind "Aliyun SendBatchSms: " at 80 columns), and
the errors grouped with their counts in the recipients' title."""

from __future__ import annotations

from console.campaigns import control, model
from tests.test_send_leftovers_cli import _failing, _server, _workspace
from tests.tui_helpers import make_app, settle, text_of, wait_for


async def test_deliveries_shows_the_provider_code_and_words_of_each_failed_recipient(tmp_path, monkeypatch):
    with _server(code_for=_failing(4)) as srv:
        ws, db = _workspace(tmp_path, monkeypatch, srv.url)
        model.create(db, "c", segment="all", channel="sms", template="care-ali", holdout=0)
        assert control.launch(db, ws.config, "c", real=True).failed == 4
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        app.followed_campaign = "c"
        await pilot.press("d")
        await settle(pilot)
        table = app.screen.query_one("#recipients-table")
        await wait_for(pilot, lambda: table.row_count == 4, what="the four failed recipients")
        shown = [" ".join(str(c) for c in table.get_row_at(i)) for i in range(4)]
        # the code whole and the words begun at 80 columns (before: "Aliyun SendBatchSms: isv.MOBILE_NUMBE…")
        assert all("isv.MOBILE_NUMBER_ILLEGAL: 号码" in row for row in shown), shown
        # grouped with their counts, as `winback campaign failures` groups them
        title = str(app.screen.query_one("#recipients-box").border_title)
        assert title == "Recipients: failed · isv.MOBILE_NUMBER_ILLEGAL ×4", title
        await pilot.press("enter")   # the whole answer, as the provider gave it
        # read once the dialog is laid out: before, text_of renders at its 40-column floor and wraps the line
        # (this failed under load in a CI run)
        whole = "provider: Aliyun SendBatchSms: isv.MOBILE_NUMBER_ILLEGAL: 号码格式错误"
        await wait_for(pilot, lambda: bool(app.screen.query("#info-body"))
                       and app.screen.query_one("#info-body").size.width >= 60, what="the why dialog laid out")
        assert whole in text_of(pilot, "#info-body")
