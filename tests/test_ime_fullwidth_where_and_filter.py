"""What a Chinese input method types — ＝ ！＝ ［ ］ ， 、, fullwidth letters and digits, “curly” quotes — is read as
its ASCII form in the `where` of a saved import mapping and in the console's `/` filter, as segment rules read it
(console/ime_text.py, tests/test_segments_fullwidth.py); a quoted value stays as typed."""

from __future__ import annotations

import pytest

from console.config import Config
from console.ime_text import search_needle
from console.importing.mappings import load_mapping


def _where(*conditions: str):
    config = Config(raw={"import": {"mappings": {"shop": {"where": list(conditions)}}}})
    return load_mapping(config, "shop").where


@pytest.mark.parametrize("typed, plain", [
    ("status ！＝ 'refunded'", "status != 'refunded'"),
    ("ｓｔａｔｕｓ ＝ 'paid'", "status = 'paid'"),
    ("status ≠ 'refunded'", "status != 'refunded'"),
    ("渠道 ｎｏｔ ｉｎ ［'test'，'internal'］", "渠道 not in ['test', 'internal']"),
    ("渠道 in ['app'、'web']", "渠道 in ['app', 'web']"),
    ("渠道 in [“app”，‘web’]", "渠道 in ['app', 'web']"),
    ("状态\u3000＝\u3000＂已付款＂", "状态 = '已付款'"),
    ("status ＩＳ ＮＯＴ ＥＭＰＴＹ", "status is not empty"),
])
def test_a_mappings_where_typed_with_an_ime_reads_as_its_ascii_form(typed, plain):
    (got,), (want,) = _where(typed), _where(plain)
    assert (got.column, got.keep_if_in, got.values) == (want.column, want.keep_if_in, want.values)
    assert got.text == typed   # messages quote it as written


def test_a_quoted_value_in_a_where_stays_as_typed():
    (condition,) = _where("sku = “ＡＢ（１）”")
    assert condition.values == frozenset({"ａｂ（１）"})   # casefolded, not width-folded
    assert condition.holds("ＡＢ（１）") and not condition.holds("AB(1)")


@pytest.mark.parametrize("typed, needle", [
    ("ｉＰｈｏｎｅ", "iphone"),
    ("１３８", "138"),
    ("u1\u3000", "u1"),
    ("“ＡＢ（１）”", "ａｂ（１）"),   # one quoted value: what is inside, as typed
    ('"x y"', "x y"),
    ("O’Brien", "o’brien"),          # a closing quote alone is part of the text
    ("上海", "上海"),
])
def test_a_slash_search_folds_the_needle_as_a_rule_does(typed, needle):
    assert search_needle(typed) == needle


def test_a_quoted_column_in_a_where_may_be_in_curly_quotes():
    (got,), (want,) = _where("“渠道” ＝ 'app'"), _where("渠道 = 'app'")
    assert (got.column, got.values) == (want.column, want.values) == ("渠道", frozenset({"app"}))


async def test_slash_typed_with_an_ime_filters_a_list_and_searches_the_audit_log(tmp_path, monkeypatch):
    from textual.widgets import DataTable

    from console import audit
    from console.campaigns import model
    from screens.audit import AuditScreen
    from tests.test_send_leftovers_cli import _workspace
    from tests.tui_helpers import make_app, text_of, type_text, wait_for

    ws, db = _workspace(tmp_path, monkeypatch, "http://127.0.0.1:9/")
    for name in ("spring", "winter"):
        model.create(db, name, segment="all", channel="sms", template="care-ali", holdout=0)
    audit.record_now(db, "test.note", sku="AB1")
    total = db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    db.close()
    app = make_app(ws)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")   # the Campaigns list: filtered in memory
        table = app.screen.query_one("#campaigns-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="the two campaigns")
        table.focus()
        await pilot.press("slash")
        await type_text(pilot, "ＷＩＮＴＥＲ")
        await wait_for(pilot, lambda: table.row_count == 1, what="winter alone")
        assert "winter" in str(table.get_row_at(0))
        await pilot.press("escape")
        await pilot.press("a")   # the audit log: searched in SQL over every entry
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen), what="the audit log")
        log = app.screen.query_one("#audit-table", DataTable)
        await wait_for(pilot, lambda: log.row_count == total, what="every entry")
        log.focus()
        await pilot.press("slash")
        await type_text(pilot, "ｓｋｕ＝ａｂ１")
        await wait_for(pilot, lambda: text_of(pilot, "#filter-count").strip() == f"1 of {total:,} match",
                       what="the one entry with sku=AB1")
