"""Rendering for real users: contexts, coupon codes, recommendations, batch render, preview, lint, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from console import messages, offers, recommendations, templates
from console.config import Config
from console.message_context import ContextBuilder, sample_context
from console.offers import Offer
from console.secrets import CODE_ALPHABET, workspace_secret
from console.templates import VARIABLES, Template
from tests.cli_terminal import terminal_of

NOW = 1_764_000_000  # 2025-11-24 16:00 UTC
DAY = 86_400


def add_user(db, ext, name="王小明", phone="+8613800000001", email=None, region="上海"):
    cur = db.execute(
        "INSERT INTO users (external_id, name, phone, email, region, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, 0, 0)", [ext, name, phone, email, region])
    return cur.lastrowid


_fp = iter(range(1, 10**9))


def add_event(db, uid, kind, days_ago, obj=None, category=None, amount=None):
    db.execute("INSERT INTO events (user_id, kind, at, amount, category, object, fingerprint) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)", [uid, kind, NOW - days_ago * DAY, amount, category, obj, next(_fp)])


@pytest.fixture
def shop(db, monkeypatch):
    """Five users with orders in two categories; u3 has no name, u5 has no phone."""
    monkeypatch.setenv("WINBACK_NOW", "2025-11-24T16:00:00+00:00")
    ids = {}
    for i in range(1, 6):
        ids[f"u{i}"] = add_user(db, f"u{i}", name=None if i == 3 else f"用户{i}",
                                phone=None if i == 5 else f"+86138000000{i:02d}", email=f"u{i}@example.com")
    # coffee buyers: beans + mug are bought together by u1, u2, u3; u4 buys tea.
    for u in ("u1", "u2", "u3"):
        add_event(db, ids[u], "order", 120, "咖啡豆", "咖啡", 88)
        add_event(db, ids[u], "order", 110, "马克杯", "咖啡", 39)
    add_event(db, ids["u1"], "order", 100, "挂耳咖啡", "咖啡", 49)
    add_event(db, ids["u1"], "view", 95, "冷萃咖啡", "咖啡")
    add_event(db, ids["u4"], "order", 200, "龙井", "茶", 120)
    add_event(db, ids["u4"], "visit", 30)
    offers.add(db, Offer("back20", "coupon", threshold=100, amount=20, validity_days=7), layers=["A"])
    return ids


def test_context_variables_are_exactly_the_allow_list(db, shop):
    builder = ContextBuilder(db, Config(), "sms")
    rows = builder.rows_for_ids([shop["u1"]])
    _, ctx, _ = next(builder.contexts(rows))
    ctx["offer"] = builder.offer_context(offers.get(db, "back20"), shop["u1"])
    for root, spec in VARIABLES.items():
        assert root in ctx
        if isinstance(spec, dict):
            assert set(ctx[root]) == set(spec), root
    sample = sample_context()
    assert {k for k in sample if k != "campaign_tracking"} == set(VARIABLES)


def test_profile_and_recommendations_come_from_events(db, shop):
    recommendations.refresh(db)
    builder = ContextBuilder(db, Config(), "sms", now=NOW)
    rows = builder.rows_for_ids([shop["u1"], shop["u4"]])
    ctx = {row["external_id"]: c for row, c, _ in builder.contexts(rows)}
    u1 = ctx["u1"]
    assert u1["profile"]["days_dormant"] == 100 and u1["profile"]["orders"] == 3
    assert u1["profile"]["top_category"] == "咖啡" and u1["profile"]["spend"] == 176
    assert u1["recommendations"]["last_item"] == "冷萃咖啡"        # the last thing viewed or bought
    assert u1["recommendations"]["last_item_kind"] == "view"
    # best sellers of coffee, without what the user has just viewed/bought
    assert u1["recommendations"]["best_sellers"][:2] == ["咖啡豆", "马克杯"]
    u4 = ctx["u4"]
    assert u4["recommendations"]["best_sellers"] == [] and u4["profile"]["top_category"] == "茶"
    # people who bought u2's last purchase (马克杯) also bought 咖啡豆 (3 buyers) and 挂耳咖啡 (1)
    rows = builder.rows_for_ids([shop["u2"]])
    _, c2, _ = next(builder.contexts(rows))
    assert c2["recommendations"]["also_bought"] == ["咖啡豆", "挂耳咖啡"]


def test_recommendations_rebuild_only_when_events_change(db, shop):
    assert recommendations.refresh(db) is True
    assert recommendations.refresh(db) is False
    add_event(db, shop["u4"], "order", 1, "碧螺春", "茶", 80)
    # a campaign batch or a preview accepts a build from today; lint (max_age None) rebuilds
    assert recommendations.refresh(db, max_age=86_400) is False
    assert recommendations.refresh(db) is True


def test_coupon_codes_are_unique_per_user_stable_per_campaign_and_unguessable(db, shop):
    back20 = offers.get(db, "back20")
    ids = list(shop.values())
    camp = SimpleNamespace(id=7, name="spring")
    first = [m.coupon_code for m in messages.render_for_users(db, Config(), _sms(db), ids, offer=back20,
                                                               campaign=camp)]
    again = [m.coupon_code for m in messages.render_for_users(db, Config(), _sms(db), ids, offer=back20,
                                                               campaign=camp)]
    other = [m.coupon_code for m in messages.render_for_users(db, Config(), _sms(db), ids, offer=back20,
                                                               campaign=SimpleNamespace(id=8, name="x"))]
    assert first == again and len(set(first)) == len(ids)
    assert not set(first) & set(other)
    assert all(len(c) == 10 and set(c) <= set(CODE_ALPHABET) for c in first)
    assert workspace_secret(db) == workspace_secret(db) and len(workspace_secret(db)) == 32


def _sms(db, body="{{ user.name }}，送您{{ offer.amount | money }}元券，{{ offer.expires | date }}前有效，券码{{ offer.code }}"):
    try:
        return templates.get(db, "coupon-sms")
    except Exception:
        return templates.save(db, Template("coupon-sms", "sms", body))


def test_render_for_users_keeps_order_reports_missing_users_and_measures(db, shop):
    ids = [shop["u2"], 99999, shop["u1"]]
    out = list(messages.render_for_users(db, Config(), _sms(db), ids, offer="back20"))
    assert [m.user_id for m in out] == ids
    assert out[1].error_kind == "no_user"
    m = out[2]
    assert m.text.startswith("【品牌】用户1，送您20元券，12月2日前有效，券码") and m.text.endswith("拒收请回复R")
    assert (m.parts, m.encoding, m.cost, m.to) == (1, "cn", 0.04, "+8613800000001")
    assert m.offer_expires == 1_764_691_199  # 2025-12-02 23:59:59 in Shanghai: 7 days after the send
    assert m.units == len(m.text)


def set_profile(db, uid, **cols):
    cols["refreshed_at"] = NOW
    names = ", ".join(cols)
    db.execute(f"INSERT OR REPLACE INTO profiles (user_id, {names}) VALUES (?, {', '.join('?' for _ in cols)})",
               [uid, *cols.values()])


def test_profile_row_wins_over_events_when_refreshed(db, shop):
    set_profile(db, shop["u1"], layer="hot light", top_category="茶", dormancy="dormant", orders=9,
                dormancy_at=NOW - 42 * DAY)
    builder = ContextBuilder(db, Config(), "sms", now=NOW)
    ctx = {row["external_id"]: c for row, c, _ in builder.contexts(builder.rows_for_ids(list(shop.values())))}
    assert ctx["u1"]["profile"]["layer"] == "hot light" and ctx["u1"]["profile"]["top_category"] == "茶"
    assert ctx["u1"]["profile"]["orders"] == 9 and ctx["u1"]["profile"]["days_dormant"] == 42
    # u2 has no profile row yet (imported after the last refresh): values come from events
    assert ctx["u2"]["profile"]["orders"] == 2 and ctx["u2"]["profile"]["top_category"] == "咖啡"


def test_offer_by_layer_gives_each_layer_its_offer(db, shop):
    offers.add(db, Offer("back50", "coupon", threshold=300, amount=50, validity_days=14), layers=["B"])
    set_profile(db, shop["u1"], layer="A")
    set_profile(db, shop["u2"], layer="B")
    camp = SimpleNamespace(id=3, name="by-layer", offer_by_layer=True)
    out = {m.user_id: m for m in messages.render_for_users(db, Config(), _sms(db), list(shop.values()),
                                                           campaign=camp)}
    assert out[shop["u1"]].offer == "back20" and "20元券" in out[shop["u1"]].text
    assert out[shop["u2"]].offer == "back50" and "50元券" in out[shop["u2"]].text
    assert out[shop["u3"]].error_kind == "undefined" and "--offer" in out[shop["u3"]].error


def test_email_unsubscribe_link_carries_a_token_the_inbound_server_accepts(db, shop):
    inbound = pytest.importorskip("console.inbound")
    cfg = Config(channels={"email": {"unsubscribe_url": "https://b.example/u/{token}", "price": 0.001}})
    t = templates.save(db, Template("mail", "email", "Hi {{ user.name }}\n{{ links.unsubscribe }}",
                                    subject="Hi {{ user.name }}\nBcc: x@evil.example"))
    m = next(messages.render_for_users(db, cfg, t, [shop["u1"]], campaign=SimpleNamespace(id=5, name="c")))
    token = m.text.rsplit("/u/", 1)[1].strip()
    assert inbound.verify_unsubscribe_token(db, token) == (shop["u1"], "email", 5)
    assert "\n" not in m.subject and m.subject.startswith("Hi 用户1 Bcc")
    assert m.to == "u1@example.com" and m.cost == 0.001


def test_preview_one_user_with_length_parts_cost_and_warnings(db, shop):
    templates.save(db, Template("long", "sms", "{{ user.name }}，" + "好" * 70 + "，优惠券 https://b.example/x"))
    msg, info = messages.preview(db, Config(), "long", "u1")
    assert msg.parts == 2 and msg.cost == pytest.approx(0.08)
    assert {w.code for w in msg.warnings} >= {"link", "provider_wording"}
    assert info["template"] == "long" and info["mode"] == "cn"
    with pytest.raises(Exception, match="no user 'nobody'"):
        messages.preview(db, Config(), "long", "nobody")


def test_lint_reports_errors_by_kind_empties_parts_cost_and_longest(db, shop):
    templates.save(db, Template(
        "lintme", "sms",
        "Hi {{ user.name }}, {{ profile.top_category }}{% if user.region == '上海' %}{{ 'x' * 100 }}{% endif %}"
        "{{ user.attributes.vip }}"))
    db.execute("UPDATE users SET attributes = '{\"vip\": \"VIP\"}' WHERE external_id IN ('u1', 'u2', 'u3', 'u4')")
    db.execute("UPDATE users SET region = '北京' WHERE external_id = 'u4'")
    report = messages.lint(db, Config(), "lintme", "SELECT id FROM users", [])
    assert (report["recipients"], report["rendered"], report["failed"]) == (5, 4, 1)
    (err,) = report["errors"]
    assert err["kind"] == "undefined" and err["examples"] == ["u5"] and "vip" in err["message"]
    empties = {e["expression"]: e for e in report["empty_fields"]}
    assert empties["user.name"]["count"] == 1 and empties["user.name"]["renders"] == "Hi ,"
    assert empties["user.name"]["summary"] == "1 recipient renders 'Hi ,' (user.name is empty)"
    assert report["parts_histogram"] == {"1": 1, "2": 3}
    assert report["total_cost"] == pytest.approx(0.04 * 7)
    assert report["longest"][0]["units"] >= report["longest"][-1]["units"]
    assert report["longest"][0]["parts"] == 2


# -- the command line ------------------------------------------------------------------------------------------


def write(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_cli_add_list_show_preview_and_lint(cli, db, shop, tmp_path):
    good = write(tmp_path, "miss.toml", 'name = "miss-you"\nchannel = "sms"\n'
                 'body = "{{ user.name }}，好久不见！送您{{ offer.amount | money }}元券，满{{ offer.threshold | money }}可用，'
                 '{{ offer.expires | date }}前有效。"\n')
    r = cli("templates", "add", good)
    assert r.exit_code == 0, r.output
    r = cli("templates", "list", "--json")
    assert [t["name"] for t in json.loads(r.stdout)] == ["miss-you"]
    assert "offer.amount | money" in cli("templates", "show", "miss-you").stdout

    r = cli("preview", "miss-you", "--user", "u1", "--offer", "back20", "--unmask")
    assert r.exit_code == 0
    assert "【品牌】用户1，好久不见！送您20元券，满100可用，12月2日前有效。拒收请回复R" in r.stdout
    r = cli("preview", "miss-you", "--user", "u1", "--offer", "back20", "--json")
    data = json.loads(r.stdout)
    assert (data["parts"], data["cost"], data["offer"]) == (1, 0.04, "back20") and data["coupon_code"]

    r = cli("templates", "lint", "miss-you", "--segment", "all", "--offer", "back20", "--json")
    report = json.loads(r.stdout)
    assert r.exit_code == 0 and report["recipients"] == 5 and report["failed"] == 0
    assert report["empty_fields"][0]["summary"].startswith("1 recipient renders '，好久不见")
    assert any(w["code"] == "no_address" for w in report["warnings"])
    # without an offer nobody can render: exit 1, errors by kind with example users
    r = cli("templates", "lint", "miss-you", "--segment", "all")
    assert r.exit_code == 1 and "undefined" in r.stdout and "u1" in r.stdout


def test_cli_refuses_a_bad_file_and_saves_nothing(cli, db, tmp_path):
    good = write(tmp_path, "a.toml", 'name = "a"\nchannel = "sms"\nbody = "hi {{ user.name }}"\n')
    bad = write(tmp_path, "b.toml", 'name = "b"\nchannel = "sms"\nbody = """hi\n{{ user.__class__ }}"""\n')
    r = cli("templates", "add", good, bad)
    assert r.exit_code == 2
    assert "b.toml" in r.stderr and "line 2" in r.stderr and "__class__" in r.stderr
    assert db.execute("SELECT COUNT(*) FROM templates").fetchone()[0] == 0


def test_cli_offers_add_list_and_map(cli, db):
    r = cli("offers", "add", "back10", "--kind", "coupon", "--threshold", "50", "--amount", "10",
            "--validity", "7", "--layer", "warm light")
    assert r.exit_code == 0, r.output
    assert cli("offers", "add", "pts", "--kind", "points", "--multiplier", "2").exit_code == 0
    r = cli("offers", "add", "bad", "--kind", "coupon", "--threshold", "10", "--amount", "20", "--validity", "7")
    assert r.exit_code == 2 and "not below threshold" in r.stderr
    assert cli("offers", "map", "cold loyal", "pts").exit_code == 0
    rows = {o["name"]: o for o in json.loads(cli("offers", "list", "--json").stdout)}
    assert rows["back10"]["layers"] == "warm light" and rows["pts"]["layers"] == "cold loyal"
    assert offers.for_layer(db, "cold loyal").name == "pts" and offers.for_layer(db, "Z") is None


def test_cli_refuses_a_layer_nobody_can_be_in(cli, db):
    # `offers map A back10` used to be saved, and silently never applied to anyone.
    assert cli("offers", "add", "pts", "--kind", "points", "--multiplier", "2").exit_code == 0
    r = cli("offers", "map", "A", "pts")
    assert r.exit_code == 2 and "cold loyal" in r.stderr
    r = cli("offers", "add", "pts2", "--kind", "points", "--multiplier", "2", "--layer", "coldloyal")
    assert r.exit_code == 2
    assert db.execute("SELECT COUNT(*) FROM offer_layers").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM offers WHERE name = 'pts2'").fetchone()[0] == 0
    assert cli("offers", "map", "A", "--remove").exit_code == 0      # a stale mapping can always be removed


# -- the copy library ------------------------------------------------------------------------------------------


def test_copy_library_covers_styles_languages_channels_and_passes_the_save_checks(db, shop):
    from fixtures.copy import install, template_files

    parsed = [templates.parse_toml(text, name) for name, text in template_files()]
    combos = {(t.style, t.language, t.channel) for t in parsed}
    for style in ("nostalgic", "offer", "question"):
        for lang in ("zh", "en"):
            for channel in ("sms", "email", "push"):
                assert (style, lang, channel) in combos
    saved = install(db, Config())
    assert len(saved) == len(parsed)
    assert install(db, Config()) == []
    cfg = Config(channels={"email": {"unsubscribe_url": "https://b.example/u/{token}"}})
    for t in parsed:
        msg, _ = messages.preview(db, cfg, t.name, "u1", offer="back20")
        assert msg.error is None, (t.name, msg.error)
        if t.channel == "sms" and t.language == "zh":
            assert msg.parts == 1, (t.name, msg.units)
        if t.channel == "email":
            assert "https://b.example/u/" in msg.text


def test_lint_and_preview_with_a_real_segment(cli, db, shop):
    segments = pytest.importorskip("console.segments")
    profiles = pytest.importorskip("console.profiles")
    if not hasattr(segments, "create") or not hasattr(profiles, "refresh"):
        pytest.skip("segments area not there yet")
    profiles.refresh(db, Config())
    segments.create(db, "coffee-buyers", "orders >= 2")
    templates.save(db, Template("hi", "sms", "{{ user.name | default('亲') }}，好久不见"))
    r = cli("templates", "lint", "hi", "--segment", "coffee-buyers", "--json")
    report = json.loads(r.stdout)
    assert r.exit_code == 0 and report["recipients"] == 3          # u1, u2, u3 ordered twice or more
    assert report["total_cost"] == pytest.approx(0.12)
    data = json.loads(cli("preview", "hi", "--user", "u2", "--json").stdout)
    assert "coffee-buyers" in data["segments"]


# -- personal data in previews and lint reports ------------------------------------------------------------------


def test_lint_and_preview_mask_names_and_addresses_unless_unmask(cli, db, shop, tmp_path):
    db.execute("UPDATE users SET name = 'Isabella Williams' WHERE external_id = 'u2'")
    templates.save(db, Template("hi", "sms", "{{ user.name }}，好久不见。{{ user.first_name }} {{ user.region }}"))
    report = json.loads(cli("templates", "lint", "hi", "--segment", "all", "--json").stdout)
    quoted = " ".join(item["text"] for item in report["longest"])
    assert "用户1" not in quoted and "Isabella" not in quoted and "Williams" not in quoted
    assert "用*" in quoted and "I**，好久不见。I**" in quoted
    r = cli("templates", "lint", "hi", "--segment", "all")
    assert "Isabella" not in r.stdout and "用户1" not in r.stdout and "I**" in r.stdout

    assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'template.lint.unmask'").fetchone()[0] == 0
    report = json.loads(cli("templates", "lint", "hi", "--segment", "all", "--unmask", "--json").stdout)
    assert "Isabella Williams" in " ".join(item["text"] for item in report["longest"])
    assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'template.lint.unmask'").fetchone()[0] == 1

    data = json.loads(cli("preview", "hi", "--user", "u1", "--json").stdout)
    assert data["to"] == "138****0001" and "用户1" not in data["text"] and data["units"] == len(
        "【品牌】用户1，好久不见。用户1 上海拒收请回复R")
    r = cli("preview", "hi", "--user", "u1")
    assert "用户1" not in r.stdout + r.stderr and "+8613800000001" not in r.stdout + r.stderr
    data = json.loads(cli("preview", "hi", "--user", "u1", "--unmask", "--json").stdout)
    assert data["to"] == "+8613800000001" and "用户1" in data["text"]
    assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'template.preview.unmask'").fetchone()[0] == 1


def test_preview_warnings_keep_their_brackets(cli, db, shop):
    templates.save(db, Template("mail", "email", "Hi {{ user.name }} {{ links.unsubscribe }}", subject="Hi"))
    r = cli("preview", "mail", "--user", "u1")
    assert "no unsubscribe_url in [channels.email]" in r.stderr


def test_unsubscribe_links_are_made_by_the_inbound_tokens_module(db, shop):
    # One maker of tokens: the renderer's token is the one the inbound server makes and accepts.
    from console import unsubscribe as tokens

    builder = ContextBuilder(db, Config(), "email", campaign=SimpleNamespace(id=7, name="c"))
    token = builder.unsubscribe_token(shop["u1"])
    assert token == tokens.unsubscribe_token(db, shop["u1"], "email", 7)
    assert tokens.verify_unsubscribe_token(db, token) == (shop["u1"], "email", 7)


def test_templates_list_keeps_names_whole_at_80_columns(cli, db, monkeypatch):
    from fixtures.copy import install

    install(db, Config())
    terminal_of(monkeypatch, 80)                      # a pipe gets the whole preview, however wide
    r = cli("templates", "list")
    names = [row["name"] for row in json.loads(cli("templates", "list", "--json").stdout)]
    assert r.exit_code == 0 and all(name in r.stdout for name in names)
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    bad = cli("templates", "list", "--channel", "fax")
    assert bad.exit_code == 2 and "choose one of sms" in bad.stderr


def test_lint_cost_leaves_out_recipients_without_an_address(db, shop):
    # u5 has no phone: nothing will be sent to them, so nothing is billed.
    templates.save(db, Template("hi", "sms", "{{ user.name | default('亲') }}，好久不见"))
    report = messages.lint(db, Config(), "hi", "SELECT id FROM users", [])
    assert report["rendered"] == 5 and report["without_address"] == 1
    assert report["total_cost"] == pytest.approx(0.04 * 4)


@pytest.mark.parametrize("body", [
    "{{ user.name }}，好久不见",                     # was "D** Wang"
    "{{ user.name | upper }}，好久不见",             # was "DAVID WANG"
    "亲爱的{{ user.first_name }}，好久不见",          # was "亲爱的David"
    "{{ user.name | replace(' ', '-') }}!{{ user.name | lower | title }}",
])
def test_names_are_masked_before_rendering_whatever_the_template_does_with_them(cli, db, shop, body):
    """Masking the rendered text missed every transformed name; the values are masked before rendering now,
    while length, parts and cost stay the real message's."""
    db.execute("UPDATE users SET name = 'David Wang' WHERE external_id = 'u2'")
    templates.save(db, Template("hi", "sms", body))
    leaks = ("david", "wang", "avid")
    data = json.loads(cli("preview", "hi", "--user", "u2", "--json").stdout)
    assert not any(w in data["text"].lower() for w in leaks), data["text"]
    real = json.loads(cli("preview", "hi", "--user", "u2", "--unmask", "--json").stdout)
    assert "david" in real["text"].lower()
    assert (data["units"], data["parts"], data["cost"]) == (real["units"], real["parts"], real["cost"])
    shown = cli("preview", "hi", "--user", "u2")
    assert not any(w in (shown.stdout + shown.stderr).lower() for w in leaks)
    report = json.loads(cli("templates", "lint", "hi", "--segment", "all", "--json").stdout)
    quoted = " ".join(item["text"] for item in report["longest"]).lower()
    assert not any(w in quoted for w in leaks), quoted


def test_an_empty_name_is_still_reported_from_the_masked_render(cli, db, shop):
    templates.save(db, Template("hi", "sms", "Hi {{ user.name }}, welcome back"))
    report = json.loads(cli("templates", "lint", "hi", "--segment", "all", "--json").stdout)
    [empty] = report["empty_fields"]
    assert empty["count"] == 1 and empty["examples"] == ["u3"] and empty["renders"] == "Hi , welcome"
