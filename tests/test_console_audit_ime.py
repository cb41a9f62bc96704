"""A newcomer's walk through the authoring loop at 80x24, typing as a Chinese input method does: full-width
punctuation and digits ('（华东，华南）', '３／７ｄ', '１１３３'), curly quotes ('“'). What the operator typed either
works as its ASCII twin or is refused naming the character; and every field of a form can be seen while typed."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Static, TextArea

from console.audit import recent
from screens.dialogs import FormDialog
from screens.messages import MessagesScreen
from screens.offers import OffersScreen
from screens.person import PersonScreen
from screens.segment_editor import SegmentEditorScreen
from tests.tui_helpers import (
    demo_workspace,
    error_dialog_shown,
    make_app,
    settle,
    text_of,
    type_text,
    wait_for,
)


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


async def _new_segment_rule(pilot, rule: str) -> None:
    await pilot.press("s")
    await settle(pilot)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SegmentEditorScreen), what="the segment editor")
    await type_text(pilot, "华东沉睡")
    await pilot.press("tab")
    await wait_for(pilot, lambda: pilot.app.focused is pilot.app.screen.query_one("#segment-rule"),
                   what="the rule field")
    await type_text(pilot, rule)


async def _new_template(pilot, text: str) -> None:
    """Messages (m), a new template (n), its editor's text replaced by `text` — an edit, as typing is (load_text
    would not count as one)."""
    app = pilot.app
    await pilot.press("m")
    await wait_for(pilot, lambda: isinstance(app.screen, MessagesScreen), what="Messages")
    await settle(pilot)
    await pilot.press("n")
    editor = app.screen.query_one("#editor", TextArea)
    await wait_for(pilot, lambda: app.focused is editor, what="the editor")
    editor.replace(text, (0, 0), editor.document.end)


async def test_the_offer_forms_last_fields_are_on_screen_when_typed_in_at_80x24(demo):
    """The New offer form has 8 fields; at 80x24 Trial days and Description were below the dialog's edge: Enter moved
    the focus there and the operator typed into a field they could not see."""
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("O")
        await wait_for(pilot, lambda: isinstance(app.screen, OffersScreen), what="Offers")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the New offer form")
        box = app.screen.query_one("FormDialog > *")
        for key in ("name", "kind", "threshold", "amount", "validity_days", "multiplier", "trial_days",
                    "description"):
            field = app.screen.query_one(f"#field-{key}", Input)
            await wait_for(pilot, lambda f=field: app.focused is f, what=f"the focus on {key}")
            await pilot.pause()
            assert box.region.contains_region(field.region), \
                f"{key} is typed in but not on screen (field {field.region}, dialog {box.region})"
            await pilot.press("tab")


async def test_the_caret_sits_under_the_character_the_mistake_is_at(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _new_segment_rule(pilot, "region = 华东 and orders >= x")
        await wait_for(pilot, lambda: "^" in text_of(pilot, "#rule-result"), what="the caret")
        rule = app.screen.query_one("#segment-rule", Input)
        result = app.screen.query_one("#rule-result")
        caret_x = result.content_region.x + text_of(pilot, "#rule-result").splitlines()[0].index("^")
        # the x is the 27th character, after two wide ones (华东): 28 cells into the text
        x_at = rule.content_region.x + 28
        assert caret_x == x_at, f"caret at screen column {caret_x}, the x at {x_at}"


async def test_a_curly_quote_in_the_template_editor_is_named_with_what_to_write(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _new_template(pilot, 'name = "回归短信"\nchannel = "sms"\nbody = “{{ user.name }}，好久不见”\n')
        await wait_for(pilot, lambda: "LEFT DOUBLE QUOTATION MARK" in text_of(pilot, "#problems"),
                       what=f"the curly quote named (problems: {text_of(pilot, '#problems')!r})")
        said = " ".join(text_of(pilot, "#problems").split())
        assert "write '\"'" in said and "line 3, column 8" in said, said


async def test_a_cap_typed_with_full_width_digits_and_slash_is_set(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the cap form")
        await type_text(pilot, "email ３／７ｄ")
        await pilot.press("enter")
        await settle(pilot)
        assert not error_dialog_shown(app), text_of(pilot, "#error-message")
        table = app.screen.query_one("#caps-table", DataTable)
        await wait_for(pilot, lambda: ["email", "3", "7d"] in [[str(c) for c in table.get_row_at(i)]
                                                              for i in range(table.row_count)],
                       what="the email cap listed")
    db = demo.open()
    assert recent(db, action="caps.set")[0]["details"]["rule"] == "email 3/7d"
    db.close()


async def test_find_a_person_by_last_four_digits_typed_full_width(demo):
    db = demo.open()
    phone, name, user = next(iter(db.execute(
        "SELECT phone, name, external_id FROM users WHERE phone IS NOT NULL AND name IS NOT NULL ORDER BY id")))
    db.close()
    full_width = "".join(chr(ord(d) - ord("0") + ord("０")) for d in phone[-4:])
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the find dialog")
        await type_text(pilot, f"{full_width} {name}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PersonScreen)
                       and user in text_of(pilot, "#person-profile"), what=f"the page of {user}")


async def test_a_refused_offer_comes_back_with_what_was_typed(demo):
    """'满１００' is not a number: the refusal said so, and Close left the operator before an empty list — the
    form's eight fields were gone and had to be typed again."""
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("O")
        await wait_for(pilot, lambda: isinstance(app.screen, OffersScreen), what="Offers")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the New offer form")
        typed = {"name": "回归券", "kind": "coupon", "threshold": "满１００", "amount": "１５", "validity_days": "７"}
        for value in typed.values():
            await type_text(pilot, value)
            await pilot.press("enter")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: error_dialog_shown(app), what="the refusal")
        assert "threshold" in text_of(pilot, "#error-message").lower() or "spend" in text_of(
            pilot, "#error-message").lower(), text_of(pilot, "#error-message")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the form again")
        form = app.screen
        assert {key: form.query_one(f"#field-{key}", Input).value for key in typed} == typed


@pytest.mark.parametrize(("key", "typed"), [("n", "sms 2 per week"), ("q", "晚上8点到早上8点")])
async def test_a_refused_cap_or_quiet_hours_comes_back_with_what_was_typed(demo, key, typed):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        await settle(pilot)
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the policy form")
        await type_text(pilot, typed)
        await pilot.press("enter")
        await wait_for(pilot, lambda: error_dialog_shown(app), what="the refusal")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the form again")
        assert app.screen.query_one(Input).value == typed


async def test_the_preview_as_forms_hints_read_whole_at_80_columns_and_enter_previews(demo):
    from rich.cells import cell_len

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MessagesScreen), what="Messages")
        await settle(pilot)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the Preview as form")
        await pilot.pause()
        for field in app.screen.query(Input).results():
            assert cell_len(str(field.placeholder)) <= field.content_region.width, \
                f"{field.placeholder!r} is cut at {field.content_region.width} cells"
        assert "Enter: next / preview" in str(app.screen.query_one("FormDialog > *").border_subtitle)


async def test_the_creation_flow_reads_holdout_budget_and_schedule_typed_full_width(demo):
    """'１５％', '￥５００' and 'every ７ｄ' as a Chinese input method types them: refused before ('holdout
    '１５％': a percentage such as 10'), though they read as 15%, ¥500 and every 7d."""
    from textual.widgets import Select

    from console.campaigns import model
    from screens.new_campaign import NewCampaignScreen

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen)
                       and "dormant" in [str(v) for _, v in app.screen.query_one("#f-segment", Select)._options],
                       what="the creation flow with its segments")
        app.screen.query_one("#f-name", Input).value = "回流测试"
        app.screen.query_one("#f-segment", Select).value = "dormant"
        for selector, typed in (("#f-holdout", "１５％"), ("#f-budget", "￥５００"), ("#f-schedule", "every ７ｄ")):
            field = app.screen.query_one(selector, Input)
            field.value = ""
            field.focus()
            await wait_for(pilot, lambda f=field: app.focused is f, what=f"the focus on {selector}")
            await type_text(pilot, typed)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "to send" in text_of(pilot, "#plan"), what="the draft's plan")
    db = demo.open()
    created = model.get(db, "回流测试")
    db.close()
    assert (created.holdout_pct, created.budget, created.every_days) == (15, 500, 7)


async def test_leaving_an_edited_template_asks_in_a_whole_sentence(demo):
    """It asked 'Your edits to template 回归 is not saved: …'."""
    from screens.dialogs import ConfirmDialog

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _new_template(pilot, 'name = "回归"\nchannel = "sms"\nbody = "好久不见"\n')
        await pilot.press("escape", "n")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question")
        asked = " ".join(str(w.render()) for w in app.screen.query(Static).results())
        assert "The edited template 回归 is not saved" in asked, asked


async def test_a_saved_segment_is_the_one_under_the_cursor_and_shown(demo):
    """After ctrl+s the list kept its cursor on the first segment ('active'), the new one somewhere below."""
    from screens.base import cursor_key

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SegmentEditorScreen), what="the segment editor")
        await type_text(pilot, "华东沉睡")
        await pilot.press("tab")
        await wait_for(pilot, lambda: app.focused is app.screen.query_one("#segment-rule"), what="the rule field")
        await type_text(pilot, "dormancy = dormant and region = 华东")
        await wait_for(pilot, lambda: "users match now" in text_of(pilot, "#rule-result"), what="the count")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, SegmentEditorScreen), what="the list again")
        table = app.screen.query_one("#segments-table", DataTable)
        await wait_for(pilot, lambda: cursor_key(table) == "华东沉睡",
                       what=f"the new segment under the cursor (it is on {cursor_key(table)!r})")


async def test_an_empty_layer_says_nobody_is_there_and_how_to_pick_another(demo):
    """l, Enter opens the heat map's first cell (warm × loyal), which no dormant user is in: the list was a blank
    table under '0 users' with nothing to do."""
    from screens.overview import LayerMembersScreen

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#heat").matrix[2][0][0] == 0   # the first cell is empty in the demo
        await pilot.press("l", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LayerMembersScreen)
                       and "0 users" in str(app.screen.query_one("#layer-members").border_title),
                       what="the empty layer's list")
        empty = app.screen.query_one("#layer-empty")
        assert empty.display and "Nobody" in text_of(pilot, "#layer-empty"), text_of(pilot, "#layer-empty")


async def test_an_unclosed_variable_in_the_editor_says_to_close_it(demo):
    """'{{ user.name 好久不见' said only Jinja's "expected token 'end of print statement', got '好久不见'"."""
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _new_template(pilot, 'name = "回归"\nchannel = "sms"\nbody = "您好{{ user.name 好久不见"\n')
        await wait_for(pilot, lambda: "好久不见" in text_of(pilot, "#problems"), what="the problem")
        said = " ".join(text_of(pilot, "#problems").split())
        assert "column 16" in said and "close it with }}" in said, said
