"""The demo's copy library has `[fallback]`s (PIPL Art. 24, docs/templates.md "Personalised copy and the fallback"):
on the demo, a customer who refused personalised marketing gets the neutral fallback copy — and in a campaign
that gives offers by layer, the fallback's one offer — instead of being skipped with a render error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from console.config import Config
from console.workspace import Workspace
from fixtures.copy import template_files
from tests.conftest import FROZEN_NOW, Cli

FALLBACK_OFFER = "back20"   # the library's [fallback] offer: the medium coupon, the same for everyone


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """One `winback demo --users 200` for the module (copied per test), with one dormant customer who would get an
    SMS (a mainland phone, SMS consent in force, not suppressed), in a layer whose offer is not the fallback's,
    who refused personalised marketing: (the database, their external id, their layer)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("WINBACK_NOW", FROZEN_NOW)
    mp.setenv("WINBACK_OPERATOR", "ops")
    folder = tmp_path_factory.mktemp("demofallback")
    mp.chdir(folder)
    cli = Cli(folder / "winback.db")
    made = cli("demo", "--users", "200", "--no-tui")
    assert made.exit_code == 0, made.output
    db = Workspace.load(db=cli.db_path).open()
    row = db.execute(
        "SELECT u.external_id, p.layer FROM users u JOIN profiles p ON p.user_id = u.id"
        " JOIN offer_layers ol ON ol.layer = p.layer JOIN offers o ON o.id = ol.offer_id"
        " WHERE p.dormancy = 'dormant' AND o.name != ? AND u.phone LIKE '+86%'"
        " AND (SELECT status FROM consents c WHERE c.user_id = u.id AND c.channel = 'sms'"
        "      ORDER BY c.at DESC, c.id DESC LIMIT 1) = 'granted'"
        " AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.user_id = u.id) ORDER BY u.id LIMIT 1",
        [FALLBACK_OFFER]).fetchone()
    assert row is not None, "the demo has no dormant customer in a layer with another offer"
    refused = cli("consent", "personalised", row[0], "--refuse")
    assert refused.exit_code == 0, refused.output
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # everything in the main file: a plain copy is whole
    db.close()
    mp.undo()
    return cli.db_path, str(row[0]), str(row[1])


@pytest.fixture
def refuser(built: tuple[Path, str, str], workspace: Workspace) -> tuple[str, str]:
    """The demo copied over this test's workspace (the `cli` fixture's database): the refuser's external id and
    their layer's preset segment (`cold-regular`)."""
    shutil.copy(built[0], workspace.db_path)
    return built[1], built[2].replace(" ", "-")


def test_the_refuser_in_a_by_layer_campaign_gets_the_fallback_copy_and_offer(cli, workspace, refuser):
    from console import messages
    from console.campaigns.claim import payload_hash
    from console.channels.base import Message

    user = refuser[0]
    made = cli("campaign", "create", "by-layer", "--segment", "dormant", "--channel", "sms",
               "--template", "offer-sms-zh", "--offer-by-layer", "--holdout", "0")
    assert made.exit_code == 0, made.output
    why = json.loads(cli("why", user, "--campaign", "by-layer", "--json").stdout)
    [variant] = why["copy"]["variants"]
    assert variant["copy"] == "fallback" and f"offer {FALLBACK_OFFER}" in variant["reason"]

    launched = cli("campaign", "launch", "by-layer")   # a dry run
    assert launched.exit_code == 0, launched.output
    db = workspace.open()
    campaign = next(db["campaigns"].rows_where("name = ?", ["by-layer"]))
    user_id, status, reason, recorded = db.execute(
        "SELECT s.user_id, s.status, s.reason, s.payload_hash FROM sends s JOIN users u ON u.id = s.user_id"
        " WHERE s.campaign_id = ? AND u.external_id = ?", [campaign["id"], user]).fetchone()
    assert (status, reason) == ("sent", None)   # rendered and recorded, not skipped as a render_error
    assert db.execute("SELECT count(*) FROM sends WHERE campaign_id = ? AND reason = 'render_error'",
                      [campaign["id"]]).fetchone()[0] == 0
    [msg] = messages.render_for_users(db, Config(), "offer-sms-zh", [user_id], campaign=campaign)
    assert (msg.copy, msg.offer, msg.parts) == ("fallback", FALLBACK_OFFER, 1)
    assert "送您20元券，满100可用" in msg.text
    assert recorded == payload_hash(Message(0, msg.user_id, msg.to, msg.text, "by-layer", "sms"))


def test_every_library_template_that_personalises_gives_the_refuser_its_fallback_and_lints(workspace, refuser):
    """`templates lint`'s report (by layer: each layer's offer) over the refuser's layer: every library template
    renders for everyone, and each that reads something personalised or an offer gives the refuser its fallback;
    the Chinese SMS fallbacks fit one part. (In process: 20 CLI runs would cost seconds of typer start-up.)"""
    from console import messages, segments

    user, segment = refuser
    db = workspace.open()
    members_sql, params = segments.member_ids_query_by_name(db, segment)
    for file_name, text in template_files():
        name = file_name.removesuffix(".toml")
        report = messages.lint(db, workspace.config, name, members_sql, params)
        assert report["failed"] == 0, f"{name}: {report['errors']}"
        if not (set(report["personalised"]) - {"offer by layer"} or "offer." in text):
            continue   # the question templates: nothing in them is picked for the person, no fallback needed
        assert report["non_personalised"] == {"fallback": 1}, name
        if name.endswith("-sms-zh"):
            shown, _ = messages.preview(db, workspace.config, name, user)
            assert (shown.copy, shown.parts) == ("fallback", 1), name
