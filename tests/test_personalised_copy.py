"""PIPL Art. 24: a person who refused personalised marketing gets the non-personalised version of a message — the
template's [fallback], else the generic default (personalised values replaced by values the same for everyone) —
in render, preview (CLI), lint, a dry-run send and `why`; facts about them (name, last order) stay."""

from __future__ import annotations

import json

import pytest

from console import messages, offers, templates
from console.config import Config
from console.offers import Offer
from console.personalisation import set_choice
from console.personalised_copy import neutral_context
from console.templates.personal import PERSONALISED
from tests.test_messages_render import add_event, add_user

RECS = "{{ user.name }}：您上次买了{{ profile.last_item }}，您可能喜欢{{ recommendations.also_bought | join('、') }}"
WITH_FALLBACK = f"""name = "recs"
channel = "sms"
body = "{RECS}"
[fallback]
body = "{{{{ user.name }}}}：您上次买了{{{{ profile.last_item }}}}，本周新品等您来看"
"""
WITHOUT_FALLBACK = f"""name = "recs-plain"
channel = "sms"
body = "{RECS}；热卖：{{{{ recommendations.best_sellers | join('、') }}}}"
"""
PLAIN = """name = "plain"
channel = "sms"
body = "{{ user.name }}，好久不见，送您{{ offer.amount }}元"
"""
LAYER_FALLBACK = """name = "by-layer"
channel = "sms"
body = "{{ user.name }}，送您{{ offer.amount }}元"
[fallback]
body = "{{ user.name }}，送您{{ offer.amount }}元（人人有份）"
offer = "flat5"
"""


@pytest.fixture
def shop(db):
    """u1 and u2 buy coffee beans then a mug (so each is 'also bought' with the other); u2 refused personalised
    marketing; every template above is saved; u1 and u2 are in layer A, mapped to offer back20."""
    ids = {u: add_user(db, u, name=f"用户{u[-1]}", phone=f"+861380000000{u[-1]}") for u in ("u1", "u2", "u3")}
    for u in ("u1", "u2", "u3"):
        add_event(db, ids[u], "order", 120, "咖啡豆", "咖啡", 88)
    for u in ("u1", "u2"):
        add_event(db, ids[u], "order", 110, "马克杯", "咖啡", 39)
    add_event(db, ids["u3"], "order", 100, "挂耳咖啡", "咖啡", 49)
    db.execute("INSERT INTO profiles (user_id, layer, refreshed_at) SELECT id, 'A', 0 FROM users "
               "WHERE external_id IN ('u1','u2')")
    offers.add(db, Offer("back20", "coupon", threshold=100, amount=20, validity_days=7), layers=["A"])
    offers.add(db, Offer("flat5", "coupon", threshold=0, amount=5, validity_days=7))
    for text in (WITH_FALLBACK, WITHOUT_FALLBACK, PLAIN, LAYER_FALLBACK):
        templates.save(db, templates.parse_toml(text))
    set_choice(db, "u2", refuse=True, source="test")
    return ids


def render(db, name, *users, offer=None, campaign=None):
    ids = [db.execute("SELECT id FROM users WHERE external_id = ?", [u]).fetchone()[0] for u in users]
    return list(messages.render_for_users(db, Config(), name, ids, offer=offer, campaign=campaign))


def test_who_refused_gets_the_fallback_and_who_did_not_gets_the_template(db, shop):
    allowed, refused = render(db, "recs", "u1", "u2")
    assert allowed.copy == "as written" and allowed.copy_reason is None
    assert "您可能喜欢" in allowed.content
    assert refused.copy == "fallback"
    # their own name and last order stay (facts, not automated decisions); the recommendation goes
    assert refused.content == "用户2：您上次买了马克杯，本周新品等您来看"
    assert "PIPL Art. 24" in refused.copy_reason and "recommendations.also_bought" in refused.copy_reason


def test_without_a_fallback_the_generic_version_fills_nothing_from_their_profile(db, shop):
    allowed, refused = render(db, "recs-plain", "u1", "u2")
    assert allowed.content.startswith("用户1：您上次买了马克杯，您可能喜欢咖啡豆")
    assert refused.copy == "generic" and "no [fallback]" in refused.copy_reason
    # also_bought empty; best sellers are the shop's (the same for everyone), not their category's
    assert refused.content == "用户2：您上次买了马克杯，您可能喜欢；热卖：咖啡豆、马克杯、挂耳咖啡"
    assert [e.expression for e in refused.empties] == ["recommendations.also_bought|join"]


def test_a_template_that_reads_nothing_personalised_is_the_same_for_them(db, shop):
    (refused,) = render(db, "plain", "u2", offer="back20")
    assert refused.copy == "as written" and refused.content == "用户2，好久不见，送您20元"
    assert "reads nothing personalised" in refused.copy_reason


def test_an_offer_by_layer_is_personalised_they_get_the_fallback_offer(db, shop):
    campaign = {"id": 7, "name": "c", "offer_by_layer": True}
    allowed, refused = render(db, "by-layer", "u1", "u2", campaign=campaign)
    assert (allowed.offer, allowed.content) == ("back20", "用户1，送您20元")
    assert (refused.offer, refused.copy, refused.content) == ("flat5", "fallback", "用户2，送您5元（人人有份）")
    assert "offer flat5" in refused.copy_reason
    # without a [fallback] offer a by-layer campaign has none for them: said, not a bare "'offer' is undefined"
    (plain,) = render(db, "plain", "u2", campaign=campaign)
    assert plain.copy == "generic" and plain.error_kind == "undefined" and "[fallback]" in plain.error


def test_the_generic_context_replaces_every_personalised_variable():
    ctx = {"profile": {"top_category": "咖啡", "layer": "A", "last_item": "马克杯"},
           "recommendations": {"best_sellers": ["x"], "also_bought": ["y"], "top_category": "咖啡",
                               "last_item": "马克杯"}}
    out = neutral_context(ctx, ["shop-wide"])
    for variable in PERSONALISED:
        group, key = variable.split(".")
        assert out[group][key] != ctx[group][key], variable
    assert out["profile"]["last_item"] == out["recommendations"]["last_item"] == "马克杯"


def test_a_fallback_may_not_read_anything_personalised(db):
    bad = WITH_FALLBACK.replace("本周新品等您来看", "{{ recommendations.best_sellers | first }}")
    problems = templates.check(templates.parse_toml(bad))
    assert [p.part for p in problems] == ["fallback"]
    assert "recommendations.best_sellers is personalised" in problems[0].message
    # a part the fallback leaves out is the template's own: it must not be personalised either
    email = """name = "e"
channel = "email"
subject = "{{ recommendations.top_category }} 新品"
body = "看看 {{ links.unsubscribe }}"
[fallback]
body = "看看新品 {{ links.unsubscribe }}"
"""
    problems = templates.check(templates.parse_toml(email))
    assert problems and "recommendations.top_category" in problems[0].message
    with pytest.raises(Exception, match=r"\[fallback\] has no 'titel'"):
        templates.parse_toml(WITH_FALLBACK + 'titel = "x"\n')


def test_the_fallback_survives_saving(db, shop):
    saved = templates.get(db, "recs")
    assert saved.fallback is not None and "本周新品" in saved.fallback.parts["body"]
    assert templates.get(db, "by-layer").fallback.offer == "flat5"


def test_preview_says_which_version_and_why(db, shop, cli):
    out = cli("preview", "recs", "--as", "u2")     # --as is --user
    assert out.exit_code == 0, out.output
    assert "本周新品等您来看" in out.output
    assert "copy: fallback" in out.output and "refused personalised marketing" in out.output
    data = json.loads(cli("preview", "recs", "--user", "u2", "--json").stdout)
    assert data["copy"] == "fallback" and "PIPL Art. 24" in data["copy_reason"]
    data = json.loads(cli("preview", "recs", "--user", "u1", "--json").stdout)
    assert data["copy"] == "as written" and data["copy_reason"] is None


def test_lint_counts_who_gets_a_non_personalised_version(db, shop, cli):
    out = cli("templates", "lint", "recs-plain", "--segment", "all", "--offer", "back20", "--json")
    report = json.loads(out.stdout)
    assert report["personalised"] == ["recommendations.also_bought", "recommendations.best_sellers"]
    assert report["non_personalised"] == {"generic": 1}
    # without --offer each recipient gets their layer's offer: that choice is personalised too
    report = json.loads(cli("templates", "lint", "recs-plain", "--segment", "all", "--json").stdout)
    assert report["personalised"][-1] == "offer by layer" and report["non_personalised"] == {"generic": 1}
    text = cli("templates", "lint", "recs-plain", "--segment", "all").output
    assert "1 recipient refused personalised marketing: generic version" in text


def _dry_run(db, cli, template):
    db.conn.executemany("INSERT INTO consents (user_id, channel, status, at, source) VALUES (?, 'sms', 'granted', 0, "
                        "'test')", [(uid,) for (uid,) in db.execute("SELECT id FROM users")])
    made = cli("campaign", "create", "c1", "--segment", "all", "--channel", "sms", "--template", template,
               "--holdout", "0", "--offer", "back20")
    assert made.exit_code == 0, made.output
    launched = cli("campaign", "launch", "c1")
    assert launched.exit_code == 0, launched.output


def test_a_dry_run_records_the_fallback_for_who_refused(db, shop, cli):
    from console.campaigns.claim import payload_hash
    from console.channels.base import Message

    _dry_run(db, cli, "recs")
    recorded = dict(db.execute("SELECT u.external_id, s.payload_hash FROM sends s JOIN users u ON u.id = s.user_id "
                               "WHERE s.status = 'sent'").fetchall())
    allowed, refused = render(db, "recs", "u1", "u2", campaign={"id": 1, "name": "c1"})
    assert refused.copy == "fallback" and "本周新品" in refused.text

    def fingerprint(msg):
        return payload_hash(Message(0, msg.user_id, msg.to, msg.text, "c1", "sms"))

    assert recorded["u2"] == fingerprint(refused) != fingerprint(allowed)
    assert recorded["u1"] == fingerprint(allowed)


def test_why_says_which_copy_they_get(db, shop, cli):
    _dry_run(db, cli, "recs")
    out = cli("why", "u2", "--campaign", "c1")
    assert out.exit_code == 0, out.output
    assert "copy" in out.output and "A recs: fallback — refused personalised marketing" in " ".join(out.output.split())
    data = json.loads(cli("why", "u2", "--campaign", "c1", "--json").stdout)
    assert data["copy"]["refused"] is True
    assert [(v["template"], v["copy"]) for v in data["copy"]["variants"]] == [("recs", "fallback")]
    assert " copy " not in cli("why", "u1", "--campaign", "c1").output      # as written: nothing to say
    assert json.loads(cli("why", "u1", "--campaign", "c1", "--json").stdout)["copy"]["variants"][0]["copy"] == \
        "as written"


def test_a_fallback_built_in_code_is_written_to_its_toml():
    from console.templates import Template
    from console.templates.personal import Fallback

    t = Template(name="x", channel="sms", body="{{ recommendations.also_bought | first }}",
                 fallback=Fallback(parts={"body": "新品上架"}, offer="flat5"))
    again = templates.parse_toml(templates.to_toml(t))
    assert again.fallback == Fallback(parts={"body": "新品上架"}, fields=None, offer="flat5")
