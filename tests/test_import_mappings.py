"""Issue 17.3: saved column mappings `[import.mappings.NAME]` used with `winback import … --mapping NAME`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CONFIG = """
[workspace]
timezone = "Asia/Shanghai"

[import.mappings.shop]
kind = "order"
date_format = "%d/%m/%Y %H:%M"
amount_format = "decimal_comma"
where = ["状态 != 'refunded'", "渠道 not in ['test', 'internal']"]

[import.mappings.shop.columns]
"会员号" = "user_id"
"付款时间" = "at"
"金额" = "amount"

[import.mappings.crm]
date_format = "%Y%m%d"
where = "status is not empty"

[import.mappings.crm.columns]
"Member" = "external_id"
"Mobile" = "phone"
"Joined" = "signup_at"
"""

ORDERS = [
    "会员号,付款时间,金额,状态,渠道",
    "u1,25/11/2026 09:00,\"1.299,00\",paid,app",
    "u1,25/11/2026 09:00,\"1.299,00\",paid,app",    # a second identical purchase: kept
    "u2,26/11/2026 10:30,\"12,50\",Refunded,web",     # left out (case does not matter)
    "u2,27/11/2026 11:00,\"8,00\",paid,internal",     # left out
    "u2,28/11/2026 12:00,99,paid,web",
]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "winback.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def people(cli, config, tmp_path):
    result = cli("--config", str(config), "import", "users", str(write(tmp_path / "u.csv", ["external_id", "u1", "u2"])))
    assert result.exit_code == 0, result.output


def said(result) -> str:
    return " ".join(result.output.split())


def test_a_saved_mapping_renames_reads_formats_and_filters(cli, db, config, people, tmp_path):
    path = write(tmp_path / "orders.csv", ORDERS)
    result = cli("--config", str(config), "import", "events", str(path), "--mapping", "shop", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["rows"], report["inserted"], report["filtered"], report["invalid"]) == (3, 3, 2, 0)
    nine = 1795568400  # 2026-11-25 09:00 Asia/Shanghai
    rows = db.execute("SELECT u.external_id, e.kind, e.at, e.amount, e.attributes FROM events e"
                      " JOIN users u ON u.id = e.user_id ORDER BY e.id").fetchall()
    assert rows == [
        ("u1", "order", nine, 1299.0, '{"渠道":"app","状态":"paid"}'),
        ("u1", "order", nine, 1299.0, '{"渠道":"app","状态":"paid"}'),
        ("u2", "order", nine + 3 * 86400 + 3 * 3600, 99.0, '{"渠道":"web","状态":"paid"}'),
    ]
    again = cli("--config", str(config), "import", "events", str(path), "--mapping", "shop", "--json")
    assert json.loads(again.stdout)["inserted"] == 0
    plain = cli("--config", str(config), "import", "events", str(path), "--mapping", "shop")
    assert "2 rows left out by the mapping's where" in said(plain)
    audit = db.execute("SELECT details FROM audit WHERE action = 'import.events' ORDER BY id DESC").fetchone()[0]
    assert json.loads(audit)["filtered"] == 2 and json.loads(audit)["mapping"] == "shop"


def test_options_given_on_the_command_line_override_the_mapping(cli, db, config, people, tmp_path):
    path = write(tmp_path / "orders.csv", [ORDERS[0] + ",类型", *(line + ",visit" for line in ORDERS[1:])])
    result = cli("--config", str(config), "import", "events", str(path), "--mapping", "shop", "--kind", "visit",
                 "--json")
    assert result.exit_code == 0, result.output
    assert {k for (k,) in db.execute("SELECT DISTINCT kind FROM events")} == {"visit"}


def test_a_time_not_in_the_mappings_format_is_refused_by_line(cli, db, config, people, tmp_path):
    path = write(tmp_path / "orders.csv", [*ORDERS, "u1,2026-11-29 10:00,1,paid,app"])
    result = cli("--config", str(config), "import", "events", str(path), "--mapping", "shop")
    assert result.exit_code == 2
    assert ("orders.csv:7: 付款时间 (at): '2026-11-29 10:00' does not match the date format '%d/%m/%Y %H:%M' of "
            "mapping 'shop'") in said(result)
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_a_users_mapping_reads_compact_dates_and_skips_rows_without_status(cli, db, config, tmp_path):
    path = write(tmp_path / "crm.csv", ["Member,Mobile,Joined,status", "m1,13812345678,20260105,active",
                                        "m2,13812345679,20260106,", "m3,13812345670,20260107,lapsed"])
    result = cli("--config", str(config), "import", "users", str(path), "--mapping", "crm", "--json")
    assert result.exit_code == 0, result.output
    assert (json.loads(result.stdout)["inserted"], json.loads(result.stdout)["filtered"]) == (2, 1)
    assert db.execute("SELECT external_id, phone, signup_at FROM users ORDER BY id").fetchall() == [
        ("m1", "+8613812345678", 1767542400), ("m3", "+8613812345670", 1767715200)]


@pytest.mark.parametrize(("toml", "expected"), [
    ("", "--mapping 'nope': no [import.mappings.nope]"),
    ('[import.mappings.nope]\nwhere = "status is refunded"\n', "[import.mappings.nope] where: 'status is refunded': write COLUMN = 'value'"),
    ('[import.mappings.nope]\nwhere = "status in refunded"\n', "after 'in' give ['a', 'b'] (quoted)"),
    ('[import.mappings.nope]\namount_format = "euro"\n', "[import.mappings.nope] amount_format: 'euro': use one of plain, decimal_comma"),
    ('[import.mappings.nope]\ndate_format = "DD/MM/YYYY"\n', "has no strptime code"),
    ('[import.mappings.nope]\nfilter = "x = \'1\'"\n', "[import.mappings.nope] filter: unknown setting"),
    ('[import.mappings.nope]\nkind = "order"\nwhere = "missing = \'x\'"\n[import.mappings.nope.columns]\n'
     '"会员号" = "user_id"\n"付款时间" = "at"\n', "names column 'missing', which is not in the file"),
])
def test_a_bad_mapping_is_refused_before_anything_is_read(cli, db, config, people, tmp_path, toml, expected):
    config.write_text(CONFIG + "\n" + toml, encoding="utf-8")
    path = write(tmp_path / "orders.csv", ORDERS)
    result = cli("--config", str(config), "import", "events", str(path), "--mapping", "nope")
    assert result.exit_code == 2, result.output
    assert expected in said(result), said(result)
    assert "Traceback" not in result.output
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_the_reader_process_applies_the_mapping_too(cli, db, config, people, tmp_path, monkeypatch):
    from console.importing import events, pipeline

    monkeypatch.setattr(pipeline, "PIPELINE_MIN_BYTES", 0)
    monkeypatch.setattr(events, "BATCH", 2)
    result = cli("--config", str(config), "import", "events", str(write(tmp_path / "orders.csv", ORDERS)),
                 "--mapping", "shop", "--json")
    assert result.exit_code == 0, result.output
    assert (json.loads(result.stdout)["inserted"], json.loads(result.stdout)["filtered"]) == (3, 2)
    assert db.execute("SELECT sum(amount) FROM events").fetchone()[0] == 1299.0 * 2 + 99
