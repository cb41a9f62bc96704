"""The ledger's indexes serve the queries other areas run against it."""

from __future__ import annotations

from console.policy import caps


def test_the_caps_check_reads_only_the_sends_caps_index(db):
    """policy's per-user caps probe filters on user, claim time, channel and status of counted rows: the index
    covers all four, so checking a batch never touches the ledger table itself."""
    rules = [caps.CapRule("any", 1, 7 * 86_400), caps.CapRule("sms", 2, 86_400)]
    db.execute("CREATE TEMP TABLE policy_result (user_id INTEGER PRIMARY KEY, reason TEXT)")
    captured: list[str] = []
    db.conn.set_trace_callback(captured.append)
    try:
        caps.mark_capped(db, rules, "sms", 1_800_000_000, strategy="per_user")
    finally:
        db.conn.set_trace_callback(None)
    sql = next(s for s in captured if s.lstrip().startswith("UPDATE policy_result"))
    plan = " | ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql))
    assert "USING COVERING INDEX sends_caps" in plan, plan


def test_the_claim_writes_its_batch_by_ledger_id_not_by_scanning_the_ledger(tmp_path, monkeypatch):
    """The claim records a batch with one UPDATE … FROM temp.claim_batch: it must seek each row by id (a scan of
    the whole ledger per batch would make a million-recipient run quadratic)."""
    from console.campaigns import control, model
    from tests.campaign_support import SMS_TEMPLATE, add_template, add_users, load_workspace, write_config

    monkeypatch.chdir(tmp_path)
    ws = load_workspace(write_config(tmp_path / "winback.toml", {"sms": {"transport": "dryrun", "price": 0.04}}))
    db = ws.open()
    add_users(db, 30)
    add_template(db, ws.config, SMS_TEMPLATE)
    model.create(db, "c", segment="all", channel="sms", template="miss-you", holdout=0)
    captured: list[str] = []
    db.conn.set_trace_callback(captured.append)
    try:
        control.launch(db, ws.config, "c")
    finally:
        db.conn.set_trace_callback(None)
    update = next(s for s in captured if "FROM temp.claim_batch" in s and s.lstrip().startswith("UPDATE sends"))
    db.execute("CREATE TEMP TABLE claim_batch (send_id INTEGER PRIMARY KEY, payload_hash TEXT, parts INTEGER, "
               "cost REAL, coupon_code TEXT, message_id TEXT, reason TEXT, not_before INTEGER)")
    plan = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + update)]
    assert any(p.startswith("SEARCH sends USING INTEGER PRIMARY KEY") for p in plan), plan
    assert not any(p.startswith("SCAN sends") for p in plan), plan
    assert db.execute("SELECT COUNT(*) FROM sends WHERE status = 'sent' AND payload_hash IS NOT NULL "
                      "AND message_id IS NOT NULL").fetchone()[0] == 30


def test_the_renderer_builds_only_the_context_a_template_reads(db):
    """A template that reads only user.name: no profile, recommendation or token work per recipient — and the
    same message as with the full context."""
    from console.config import Config
    from console.message_context import ContextBuilder
    from console.templates import Template, compile_template

    light = compile_template(Template(name="t", channel="sms", body="{{ user.name }}，好久不见！"))
    assert light.variables == {"user"}
    full = compile_template(Template(name="t", channel="sms",
                                     body="{{ user.name }} {{ profile.days_dormant }} {{ recommendations.last_item }}"))
    assert full.variables == {"user", "profile", "recommendations"}
    db.execute("INSERT INTO users (external_id, name, created_at, updated_at) VALUES ('u1', '王', 0, 0)")
    config = Config()
    lean = ContextBuilder(db, config, "sms", needs=light.variables)
    everything = ContextBuilder(db, config, "sms")
    assert "events" not in lean.select and "events" in everything.select
    (row, ctx, _), = lean.contexts(lean.rows_for_ids([1]))
    assert set(ctx) >= {"user"} and "profile" not in ctx and "links" not in ctx
    (row2, ctx2, _), = everything.contexts(everything.rows_for_ids([1]))
    assert light.render(ctx) == light.render(ctx2)
