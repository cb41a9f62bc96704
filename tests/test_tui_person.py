"""Find a person from any screen (`w`, or "Find a person…" in the palette) and read their page: profile and layer,
consent, suppressions with reason and source, every message planned or sent, recent events, and `why` for a
campaign — masked, with unmasking audited as in the CLI."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from console import people, templates
from console.audit import recent
from console.campaigns import control, model
from console.errors import BadInput
from console.policy import quiet_hours, suppression
from screens.dialogs import ChoiceDialog, FormDialog
from screens.person import PersonScreen
from tests.tui_helpers import (
    demo_workspace,
    error_dialog_shown,
    make_app,
    run_command,
    settle,
    text_of,
    type_text,
    wait_for,
)

SIZES = [(80, 24), (160, 45)]


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """400 demo users, a dry-run campaign that reached them, and one of them suppressed (opt-out by SMS)."""
    workspace = demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    db = workspace.open()
    templates.save(db, templates.parse_toml(
        'name = "miss-you"\nchannel = "sms"\nbody = "{{ user.name | default(\'您\') }}，好久不见"\n'))
    quiet_hours.set_quiet_hours(db, "off")
    suppression.add_suppression(db, workspace.config, user="U0000003", channel="sms", reason="opt_out",
                                source="inbound:sms", note="replied TD")
    model.create(db, "nov-sms", segment="all", channel="sms", template="miss-you", holdout=0)
    control.launch(db, workspace.config, "nov-sms")
    db.close()
    return workspace


def _user(workspace, external_id: str) -> dict:
    db = workspace.open()
    try:
        return dict(next(iter(db.query("SELECT * FROM users WHERE external_id = ?", [external_id]))))
    finally:
        db.close()


async def _open_person(pilot, text: str) -> None:
    await pilot.press("w")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, FormDialog), what="the find dialog")
    await type_text(pilot, text)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PersonScreen)
                   and "loading" not in text_of(pilot, "#person-profile"), what=f"the page of {text}")


def test_find_by_id_phone_last_four_with_name_email_and_name(demo):
    user = _user(demo, "U0000003")
    db = demo.open()
    try:
        national = user["phone"].removeprefix("+86")
        for text in ("U0000003", user["phone"], national, f"{national[-4:]} {user['name']}",
                     f"{user['name']} {national[-4:]}", user["email"].upper(), user["name"]):
            found = people.find(db, text)
            assert "U0000003" in [p["user"] for p in found], text
            assert all("****" in p["phone"] for p in found)  # masked, always
        with pytest.raises(BadInput, match="add the name"):
            people.find(db, national[-4:])
        assert people.find(db, "nobody-by-that-name") == []
        assert people.find(db, "%") == [] and people.find(db, "_") == []  # literal, not LIKE wildcards
    finally:
        db.close()


@pytest.mark.parametrize("size", SIZES)
async def test_w_from_any_screen_opens_the_page_with_profile_consent_suppression_and_messages(demo, size):
    user = _user(demo, "U0000003")
    national = user["phone"].removeprefix("+86")
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await pilot.press("d")  # Deliveries binds `f`: `w` is free on every screen
        await settle(pilot)
        await _open_person(pilot, f"{national[-4:]} {user['name']}")
        profile = text_of(pilot, "#person-profile")
        assert "U0000003" in profile and f"{national[:3]}****{national[-4:]}" in profile
        assert user["phone"] not in profile and user["name"] not in profile  # masked
        assert "layer " in profile
        policy = text_of(pilot, "#person-policy")
        assert "opt_out on sms for user · in force" in policy and "source inbound:sms" in policy
        assert "replied TD" in policy and "Consent" in policy
        table = app.screen.query_one("#person-messages", DataTable)
        assert table.row_count == 2   # and, older, the demo's simulated past campaign (fixtures/demo_uplift.py)
        when, campaign, channel, state, reason = (str(c) for c in table.get_row_at(0))
        assert campaign == "nov-sms" and channel == "sms" and state.startswith("skipped")
        assert "suppressed" in reason
        assert when.startswith("2026-11-25 11:00")  # the workspace zone (Asia/Shanghai), as console.timefmt says
        assert "Recent events" in text_of(pilot, "#person-events")
        # Enter: why, as `winback why U0000003 --campaign nov-sms` says it, masked.
        await pilot.press("enter")
        await wait_for(pilot, lambda: "asking" not in text_of(pilot, "#person-why")
                       and "nov-sms" in text_of(pilot, "#person-why"), what="the why panel")
        why = " ".join(text_of(pilot, "#person-why").split())
        assert "on the suppression list" in why and "NO" in why and user["phone"] not in why
        # Esc: back to Deliveries, where it was opened.
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, PersonScreen), what="Esc back")
        assert app.current_mode == "deliveries"


async def test_unmasking_the_page_and_why_is_audited_like_the_cli(demo):
    user = _user(demo, "U0000003")
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _open_person(pilot, "U0000003")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "suppression" in text_of(pilot, "#person-why"), what="why")
        await pilot.press("U")
        await wait_for(pilot, lambda: user["phone"] in text_of(pilot, "#person-profile"), what="unmasked page")
        await wait_for(pilot, lambda: user["phone"] in text_of(pilot, "#person-why"), what="unmasked why")
        db = demo.open()
        actions = [(e["action"], e["details"]) for e in recent(db, limit=5)]
        db.close()
        assert ("person.unmask", {"user": "U0000003"}) in actions
        assert ("policy.why.unmask", {"user": "U0000003", "campaign": "nov-sms"}) in actions
        await pilot.press("U")  # masked again; nothing more to audit
        await wait_for(pilot, lambda: user["phone"] not in text_of(pilot, "#person-profile"), what="masked")


@pytest.mark.parametrize("size", SIZES)
async def test_the_palette_finds_by_name_and_asks_which_when_several_match(demo, size):
    db = demo.open()
    name = next(iter(db.execute(
        "SELECT name FROM users GROUP BY name HAVING count(*) > 1 ORDER BY name LIMIT 1").fetchone()))
    db.close()
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await run_command(pilot, "Find a person")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the find dialog")
        await type_text(pilot, name)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="a choice between people")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PersonScreen)
                       and "loading" not in text_of(pilot, "#person-profile"), what="the chosen page")
        # `e`: why for any campaign, chosen from the list.
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="which campaign")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "nov-sms" in text_of(pilot, "#person-why")
                       and "asking" not in text_of(pilot, "#person-why"), what="why for the chosen campaign")


async def test_nobody_matching_says_so_and_a_bare_four_digits_asks_for_the_name(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the find dialog")
        await pilot.press(*"1234", "enter")
        await wait_for(pilot, lambda: error_dialog_shown(app), what="the error dialog")
        assert "add the name" in text_of(pilot, "#error-message")
        assert "bug" not in text_of(pilot, "#error-message")
        await pilot.press("escape")
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the find dialog")
        app.screen.query_one(Input).value = "nobody-by-that-name"
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, PersonScreen)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_of_a_persons_page_with_their_history_and_why(snap_compare, demo, monkeypatch, size):
    """The page of a suppressed recipient of a dry run: profile, layer, consent, the opt-out with its source,
    the skipped message and why, masked."""

    async def run_before(pilot):
        await settle(pilot)
        await _open_person(pilot, "U0000003")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "suppression" in text_of(pilot, "#person-why"), what="why")
        await settle(pilot)
        pilot.app.screen.on_screen_suspend()

    assert snap_compare(make_app(demo), terminal_size=size, run_before=run_before)
