"""`campaign plan`'s cost line says the deferred part in the same words as the other two: an amount with its
currency and a count of messages — '~0.24 CNY (6 messages)', not '~0.24 (6)' between '~0.16 CNY (4 messages)' and
'total ~0.40 CNY'."""

from __future__ import annotations

from tests.test_send_leftovers_plan import _cli, ws  # noqa: F401 (fixture)


def test_the_deferred_cost_has_its_currency_and_its_messages(ws):  # noqa: F811
    from console.campaigns import model

    db = ws.open()
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    db.close()
    out = _cli(ws, "campaign", "plan", "c")
    assert out.exit_code == 0, out.output
    assert "cost now ~0.16 CNY (4 messages), deferred to after quiet hours ~0.24 CNY (6 messages), total ~0.40 CNY " \
           "(10 messages, ~10 parts)" in out.flat, out.flat
