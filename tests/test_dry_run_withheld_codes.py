"""A dry run of a campaign whose SMS goes through an approved Aliyun/Tencent template with no parameter carrying
the coupon code: a real launch is refused for that (tests/test_sms_leftovers_coupon.py), so the dry run must not
pretend customers got codes. It warns that a real launch would be refused and records no coupon codes (a recorded
code would let outcomes count redemptions of codes nobody got); a template that carries the code keeps them."""

from __future__ import annotations

import json

from console.campaigns import model
from tests.test_sms_leftovers_coupon import _cli, _workspace


def test_a_dry_run_warns_and_records_no_codes_the_approved_template_cannot_carry(tmp_path) -> None:
    ws, db = _workspace(tmp_path)
    model.create(db, "c1", segment="all", channel="sms", template="care-ali", offer="back20", holdout=0)
    launched = _cli(ws, "campaign", "launch", "c1")
    assert launched.exit_code == 0, launched.output
    said = " ".join(launched.output.split())
    assert "a real launch would be refused" in said and "offer.code" in said, said
    assert "this dry run records no coupon codes" in said, said
    rows = db.execute("SELECT status, coupon_code FROM sends").fetchall()
    assert rows and all(status == "sent" and code is None for status, code in rows), rows
    # scripts read it in the launch's --json too
    model.create(db, "c1b", segment="all", channel="sms", template="care-ali", offer="back20", holdout=0)
    data = json.loads(_cli(ws, "campaign", "launch", "c1b", "--json").stdout)
    assert any("records no coupon codes" in note for note in data["notes"]), data


def test_a_dry_run_through_a_template_that_carries_the_code_records_the_codes(tmp_path) -> None:
    ws, db = _workspace(tmp_path)
    model.create(db, "c2", segment="all", channel="sms", template="coupon-ali", offer="back20", holdout=0)
    launched = _cli(ws, "campaign", "launch", "c2")
    assert launched.exit_code == 0, launched.output
    assert "records no coupon codes" not in launched.output
    codes = [r[0] for r in db.execute("SELECT coupon_code FROM sends")]
    assert codes and all(codes), codes
