"""`winback refresh`, `winback segments ...` and `winback why` as an operator runs them."""

from __future__ import annotations

import json

import pytest

from console import audit
from tests import segments_support as hand
from tests.segments_support import AS_OF


@pytest.fixture
def ready(cli, db, monkeypatch):
    """The hand-worked base, profiled, with the preset segments of `winback init`."""
    monkeypatch.setenv("WINBACK_NOW", AS_OF)
    hand.build(db)
    result = cli("refresh", "--json")
    assert result.exit_code == 0, result.output
    from console.config import Config
    from console.workspace_setup import ensure_presets

    ensure_presets(db, Config())
    return cli


def test_refresh_reports_the_funnel(cli, db, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", AS_OF)
    hand.build(db)
    result = cli("refresh")
    assert result.exit_code == 0
    assert "full refresh as of 2026-11-25" in result.output
    assert "never active" in result.output
    again = json.loads(cli("refresh", "--json").stdout)
    assert again["mode"] == "incremental" and again["users_recomputed"] == 0
    past = json.loads(cli("refresh", "--as-of", "2026-09-01", "--json").stdout)
    assert past["dormancy"]["active"] == 2       # c and d ordered in the 30 days before 1 September
    bad = cli("refresh", "--as-of", "yesterday")
    assert bad.exit_code == 2 and "give a date like 2026-11-25" in bad.output
    # Profiles "as of" next month would mark today's customers dormant: refused, nothing recomputed.
    before = db.execute("SELECT group_concat(dormancy) FROM profiles").fetchone()[0]
    future = cli("refresh", "--as-of", "2026-12-25")
    assert future.exit_code == 2 and "is in the future" in future.output
    assert db.execute("SELECT group_concat(dormancy) FROM profiles").fetchone()[0] == before
    assert cli("refresh", "--as-of", "2026-11-25").exit_code == 0               # today is fine


def test_init_creates_one_preset_per_dormancy_state_and_per_layer(cli):
    assert cli("init").exit_code == 0
    assert cli("init").exit_code == 0            # twice changes nothing
    rows = json.loads(cli("segments", "list", "--json").stdout)
    names = [r["name"] for r in rows]
    assert names[:5] == ["active", "at-risk", "dormant", "lost", "never-active"]
    assert {"warm-loyal", "cool-regular", "cold-light"} <= set(names)
    assert len(names) == 5 + 9
    assert all(r["preset"] for r in rows)
    dormant = next(r for r in rows if r["name"] == "dormant")
    assert dormant["rule"] == "dormancy = dormant"
    assert dormant["description"] == "Preset: 90-364 days without an order"


def test_presets_count_the_hand_worked_base(ready):
    rows = {r["name"]: r["users"] for r in json.loads(ready("segments", "list", "--json").stdout)}
    assert rows["dormant"] == 1 and rows["at-risk"] == 2 and rows["never-active"] == 2
    assert rows["warm-light"] == 2 and rows["cold-regular"] == 1


def test_create_shows_the_count_and_a_bad_rule_shows_the_column(ready):
    ok = ready("segments", "create", "dormant-buyers", "--rule", "dormancy = dormant and orders >= 3 and "
               "region in (华东, 华南)", "--description", "win them back first")
    assert ok.exit_code == 0
    assert "1 user now" in ok.output
    bad = ready("segments", "create", "typo", "--rule", "dormancy = dormant and ordrs >= 3")
    assert bad.exit_code == 2
    assert "column 24" in bad.output and "did you mean orders" in bad.output
    assert "^" in bad.output
    dup = ready("segments", "create", "dormant-buyers", "--rule", "all")
    assert dup.exit_code == 2 and "--replace" in dup.output
    assert ready("segments", "create", "dormant-buyers", "--rule", "all", "--replace").exit_code == 0


def test_list_shows_whole_rules_with_their_brackets_at_80_columns(ready):
    assert ready("segments", "create", "east", "--rule", "region in (华东, 华南) and attr.vip = yes",
                 "--description", "[VIP] east").exit_code == 0
    assert ready("segments", "create", "tagged", "--rule", 'attr.tag = "[vip]"').exit_code == 0
    table = ready("segments", "list").stdout                        # the test console is 80 columns wide
    assert "…" not in table and "华南)" in table and '"[vip]"' in table and "[VIP] east" in table


def test_why_shows_rules_with_brackets(ready):
    assert ready("segments", "create", "tagged", "--rule", 'attr.tag = "[vip]"').exit_code == 0
    out = ready("why", "c").stdout
    assert "attr.tag = [vip]" in out        # the rule as written back by to_text, brackets kept


def test_a_layer_nobody_can_be_in_is_refused(ready, db):
    before = db.execute("SELECT count(*) FROM segments").fetchone()[0]
    bad = ready("segments", "create", "typo", "--rule", 'layer = "cold loyl" and orders >= 1')
    assert bad.exit_code == 2 and 'did you mean "cold loyal"' in bad.output
    assert ready("segments", "create", "typo", "--rule", 'layer in ("cold loyal", "x")').exit_code == 2
    assert db.execute("SELECT count(*) FROM segments").fetchone()[0] == before
    assert ready("segments", "create", "ok", "--rule", 'layer in ("cold loyal", "warm light")').exit_code == 0


def test_members_are_masked_and_unmasking_is_audited(ready, db):
    rows = json.loads(ready("segments", "members", "dormant", "--json").stdout)
    assert rows == [{
        "user": "c", "name": "陈*", "phone": "137****2222", "email": "c****@example.com", "region": "华东",
        "dormancy": "dormant", "layer": "cold regular", "grid": "At Risk", "orders": 3, "spend": 180.0,
        "last_order": "2026-08-27", "last_seen": "2026-08-27",
    }]
    assert not audit.recent(db, action="segment.unmask")
    full = json.loads(ready("segments", "members", "dormant", "--unmask", "--json").stdout)
    assert full[0]["phone"] == "+8613700002222" and full[0]["email"] == "chen@example.com"
    entry = audit.recent(db, action="segment.unmask")[0]
    assert entry["actor"] == "tester" and entry["details"]["segment"] == "dormant"


def test_members_are_paged(ready):
    page1 = json.loads(ready("segments", "members", "at-risk", "--page-size", "1", "--json").stdout)
    page2 = json.loads(ready("segments", "members", "at-risk", "--page-size", "1", "--page", "2",
                             "--json").stdout)
    assert [r["user"] for r in page1 + page2] == ["d", "g"]
    table = ready("segments", "members", "at-risk", "--page-size", "1")
    assert "page 1 of 2" in table.output and "+86" not in table.output


def test_export_csv_masked(ready, tmp_path):
    out = tmp_path / "lost.csv"
    result = ready("segments", "export", "never-active", "--output", str(out))
    assert result.exit_code == 0
    lines = out.read_text(encoding="utf-8-sig").splitlines()   # a CSV file has a BOM, for Excel
    assert lines[0].startswith("user,name,phone,email")
    assert len(lines) == 3 and "138****5678" in lines[1]


def test_export_to_a_file_is_private_and_all_or_nothing(ready, tmp_path):
    import stat

    out = tmp_path / "out.csv"
    assert ready("segments", "export", "dormant", "--output", str(out), "--unmask").exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600          # names and phones: readable by the operator only
    before = out.read_bytes()
    # An unknown segment fails before the file is touched: the last good export is still there.
    missing = ready("segments", "export", "nope", "--output", str(out))
    assert missing.exit_code == 2 and out.read_bytes() == before
    assert ready("segments", "export", "nope", "--output", str(tmp_path / "new.csv")).exit_code == 2
    assert not (tmp_path / "new.csv").exists() and not list(tmp_path.glob("*.part"))
    # A folder that does not exist is bad input (exit 2, a message), not a traceback.
    nowhere = ready("segments", "export", "dormant", "--output", str(tmp_path / "no" / "x.csv"))
    assert nowhere.exit_code == 2 and "no such folder" in " ".join(nowhere.stderr.split())


def test_export_csv_cells_are_never_spreadsheet_formulas(ready, db, tmp_path):
    db.execute("UPDATE users SET name = '=HYPERLINK(\"http://x.example\",\"a\")' WHERE external_id = 'c'")
    out = tmp_path / "d.csv"
    assert ready("segments", "export", "dormant", "--unmask", "-o", str(out)).exit_code == 0
    import csv

    (row,) = list(csv.DictReader(out.open(encoding="utf-8")))
    assert row["name"].startswith("'=HYPERLINK") and row["phone"] == "+8613700002222"


def test_members_table_never_cuts_an_unmasked_phone(ready):
    table = ready("segments", "members", "dormant", "--unmask")       # the test console is 80 columns wide
    assert table.exit_code == 0 and "+8613700002222" in table.stdout


def test_show_prints_the_layer_matrix_and_breakdowns(ready):
    data = json.loads(ready("segments", "show", "at-risk", "--by", "region", "--json").stdout)
    assert data["users"] == 2
    assert sum(map(sum, data["layers"]["counts"])) == 2
    regions = {r["value"]: r for r in data["breakdowns"]["region"]}
    assert regions["华北"]["users"] == 1 and regions["华北"]["index"] == 350   # 1/2 against 1/7
    text = ready("segments", "show", "at-risk", "--by", "aov_band")
    assert text.exit_code == 0 and "layers" in text.output and "R×F grid" in text.output
    assert ready("segments", "show", "nope").exit_code == 2


def test_why_lists_segments_and_the_condition_that_excluded(ready):
    ready("segments", "create", "华东-buyers", "--rule", "region = 华东 and orders >= 5")
    data = json.loads(ready("why", "c", "--json").stdout)
    by_name = {s["segment"]: s for s in data["segments"]}
    assert by_name["dormant"]["member"] is True
    assert by_name["cold-regular"]["member"] is True
    assert by_name["active"]["excluded_by"] == "dormancy = active"
    assert by_name["active"]["value"] == "dormant"
    assert by_name["华东-buyers"]["excluded_by"] == "orders >= 5"
    assert by_name["华东-buyers"]["value"] == 3
    assert data["profile"] == {"dormancy": "dormant", "layer": "cold regular", "grid": "At Risk", "orders": 3}
    text = ready("why", "c")
    assert "c: dormant, layer cold regular, grid At Risk, 3 orders" in text.output
    assert "in: " in text.output and "dormant" in text.output and "orders >= 5" in text.output
    assert ready("why", "nobody").exit_code == 2


def test_fields_lists_the_registry(ready):
    rows = json.loads(ready("segments", "fields", "--json").stdout)
    names = {r["field"] for r in rows}
    assert {"dormancy", "layer", "orders", "days_since_last_order", "consent_sms", "region"} <= names


def test_remove(ready):
    ready("segments", "create", "tmp", "--rule", "all")
    assert ready("segments", "remove", "tmp").exit_code == 0
    assert ready("segments", "show", "tmp").exit_code == 2


def test_why_with_a_campaign_hands_over_to_the_policy_area(ready):
    result = ready("why", "c", "--campaign", "no-such-campaign")
    assert result.exit_code == 2
    assert "no campaign named 'no-such-campaign'" in result.output


def test_segments_of_user_for_previews(ready, db):
    from console import segments

    uid = db.execute("SELECT id FROM users WHERE external_id = 'e'").fetchone()[0]
    assert segments.segments_of_user(db, uid) == ["active", "warm-loyal"]
