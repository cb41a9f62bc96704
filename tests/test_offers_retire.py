"""Retiring an offer (issue 18): `winback offers retire NAME` keeps the offer for the campaigns that used it, and
refuses it for new campaigns, programs and the layer mapping; a mapped offer is taken off its layers only when
asked (`--unmap`). `offers list` shows each offer's state."""

from __future__ import annotations

import json

import pytest

from console import offers
from console.audit import recent
from console.errors import BadInput
from console.offers import Offer
from tests.campaign_support import add_template, add_users, load_workspace, write_config
from tests.conftest import Cli

OFFER_SMS = '''
name = "offer-sms"
channel = "sms"
body = "{{ user.name }}，满{{ offer.threshold }}减{{ offer.amount }}"
'''


@pytest.fixture
def shop(tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_OPERATOR", "tester")
    ws = load_workspace(write_config(tmp_path / "winback.toml", {"sms": {"transport": "dryrun"}}))
    db = ws.open()
    add_users(db, 4)
    add_template(db, ws.config, OFFER_SMS)
    offers.add(db, Offer("back20", "coupon", threshold=100, amount=20, validity_days=7), layers=["warm light"])
    offers.add(db, Offer("pts", "points", multiplier=2))
    yield ws, db, Cli(ws.db_path)
    db.close()


def _listed(cli) -> dict[str, dict]:
    result = cli("offers", "list", "--json")
    assert result.exit_code == 0, result.output
    return {o["name"]: o for o in json.loads(result.stdout)}


def test_retiring_a_mapped_offer_is_refused_until_unmap_is_given(shop):
    ws, db, cli = shop
    result = cli("offers", "retire", "back20")
    assert result.exit_code == 2
    words = " ".join(result.stderr.split())
    assert "mapped to 1 layer (warm light)" in words and "--unmap" in words
    assert _listed(cli)["back20"]["state"] == "active"              # nothing changed
    assert offers.for_layer(db, "warm light").name == "back20"

    result = cli("offers", "retire", "back20", "--unmap")
    assert result.exit_code == 0, result.output
    assert "retired offer back20" in result.stderr and "taken off warm light" in result.stderr
    listed = _listed(cli)
    assert listed["back20"]["state"] == "retired" and listed["back20"]["layers"] == ""
    assert listed["pts"]["state"] == "active"
    assert list(listed) == ["pts", "back20"]                         # active ones first
    assert offers.for_layer(db, "warm light") is None
    assert ("offer.retire", {"offer": "back20", "unmapped": ["warm light"]}) in [
        (e["action"], e["details"]) for e in recent(db, limit=3)]
    assert "state" in cli("offers", "list").stdout                   # the table has the column too


def test_an_unmapped_offer_retires_at_once_and_twice_is_refused(shop):
    _, _, cli = shop
    result = cli("offers", "retire", "pts", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["unmapped"] == []
    again = cli("offers", "retire", "pts")
    assert again.exit_code == 2 and "already retired" in again.stderr
    missing = cli("offers", "retire", "nope")
    assert missing.exit_code == 2 and "no offer named 'nope'" in missing.stderr


def test_a_retired_offer_is_refused_for_new_uses_and_kept_for_old_ones(shop):
    from console.campaigns import control, model

    ws, db, cli = shop
    model.create(db, "before", segment="all", channel="sms", template="offer-sms", offer="back20", holdout=0)
    assert cli("offers", "retire", "back20", "--unmap").exit_code == 0

    result = cli("campaign", "create", "after", "--segment", "all", "--channel", "sms", "--template",
                 "offer-sms", "--offer", "back20")
    assert result.exit_code == 2 and "'back20' is retired" in result.stderr
    result = cli("offers", "map", "warm light", "back20")
    assert result.exit_code == 2 and "'back20' is retired" in result.stderr
    with pytest.raises(BadInput, match="is retired"):
        offers.add(db, Offer("back20", "coupon", threshold=50, amount=5, validity_days=3), replace=True)
    # The campaign made before still renders its offer (its template reads it: without one every recipient would
    # be skipped as render_error), and the offer is still there by name.
    summary = control.launch(db, ws.config, "before")
    assert summary.sent == 4 and not summary.skipped.get("render_error")
    assert offers.get(db, "back20").retired_at is not None


def test_a_new_program_step_cannot_use_a_retired_offer(shop):
    from console.programs import spec

    _, db, cli = shop
    text = ('name = "ladder"\nentry = "all"\n\n[[steps]]\nname = "nudge"\nwait = "0d"\nchannel = "sms"\n'
            'template = "offer-sms"\noffer = "back20"\n')
    assert spec.parse(text, "ladder.toml", db).steps[0].offer == "back20"   # fine while it is active
    assert cli("offers", "retire", "back20", "--unmap").exit_code == 0
    with pytest.raises(BadInput, match=r"ladder.toml:9: steps\[1\].offer: .*'back20' is retired"):
        spec.parse(text, "ladder.toml", db)


def test_the_consoles_creation_flow_no_longer_offers_a_retired_offer(shop):
    from screens.sources import campaign_choices

    _, db, cli = shop
    assert campaign_choices(db)["offers"] == ["back20", "pts"]
    assert cli("offers", "retire", "pts").exit_code == 0
    assert campaign_choices(db)["offers"] == ["back20"]
