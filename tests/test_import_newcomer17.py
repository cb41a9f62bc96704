"""Issue 17, a newcomer's audit of imports: what an operator with only README and docs/ tripped on — a Chinese
shop's export with fullwidth money (￥2，000.00), a saved mapping with a misspelt winback column, and help that
did not say which columns are required, which time and amount forms are read, or where the details are."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app

SHOP = """
[import.mappings.shop]
kind = "order"
encoding = "gbk"
date_format = "%d-%m-%Y %H:%M"
where = "订单状态 != '已退款'"

[import.mappings.shop.columns]
"会员编号" = "user_id"
"下单时间" = "at"
"实付金额" = "amount"

[import.mappings.typo]
kind = "order"

[import.mappings.typo.columns]
"会员编号" = "userid"
"下单时间" = "at"
"""


def said(result) -> str:
    return " ".join(result.output.split())


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "winback.toml"
    path.write_text(SHOP, encoding="utf-8")
    return path


@pytest.fixture
def members(cli, config, tmp_path):
    users = tmp_path / "u.csv"
    users.write_text("external_id\nM001\nM002\n", encoding="utf-8")
    result = cli("--config", str(config), "import", "users", str(users))
    assert result.exit_code == 0, result.output


def test_fullwidth_money_from_a_chinese_export_is_read(cli, db, config, members, tmp_path):
    # GBK has no ¥ (U+00A5): Chinese Windows exports write ￥ (U+FFE5), often with a fullwidth comma and digits.
    orders = tmp_path / "orders.csv"
    orders.write_bytes("会员编号,下单时间,实付金额,订单状态\r\n"
                       "M001,25-11-2026 09:30,\"￥1,234.50\",已完成\r\n"
                       "M001,26-11-2026 09:30,￥2，000.00,已完成\r\n"
                       "M002,27-11-2026 09:30,１２元,已完成\r\n"
                       "M002,28-11-2026 09:30,￥88.00,已退款\r\n".encode("gbk"))
    result = cli("--config", str(config), "import", "events", str(orders), "--mapping", "shop", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 3
    amounts = [a for (a,) in db.execute("SELECT amount FROM events ORDER BY at")]
    assert amounts == [1234.5, 2000.0, 12.0]


def test_an_amount_that_is_not_one_says_which_forms_are_read(cli, db, config, members, tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text("user_id,kind,at,amount\nM001,order,2026-11-25 09:00,about 12\n", encoding="utf-8")
    result = cli("--config", str(config), "import", "events", str(orders))
    assert result.exit_code == 2
    assert "orders.csv:2: amount: 'about 12' is not an amount (write e.g. 1234.50, 1,234.50, ¥1,234.50 or " \
           "12元)" in said(result), said(result)


def test_a_saved_mappings_misspelt_column_is_said_with_its_line_in_winback_toml(cli, db, config, members, tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text("会员编号,下单时间\nM001,2026-11-25 09:00\n", encoding="utf-8")
    result = cli("--config", str(config), "import", "events", str(orders), "--mapping", "typo")
    assert result.exit_code == 2
    line = SHOP.splitlines().index('"会员编号" = "userid"') + 1
    assert (f"winback.toml line {line}: [import.mappings.typo.columns] 会员编号: 'userid' is not a column "
            "winback reads for events; did you mean \"user_id\"?") in said(result), said(result)
    assert "--map" not in said(result)          # the operator gave no --map
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def _help(*args: str) -> str:
    out = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "1000"}).output
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", out).split())


def test_import_help_answers_which_columns_which_formats_and_what_a_mapping_does():
    events = _help("import", "events")
    assert "Required: user_id, at, and kind (or --kind)." in events, events
    assert "Times: ISO 8601 (2026-11-25 09:00, 2026-11-25T09:00:00+08:00), 2026/11/25 9:00, 2026年11月25日 9:00" \
           in events, events
    assert "Amounts: 1234.50, 1,234.50, ¥1,234.50, 12元" in events, events
    assert "docs/importing.md" in events
    users = _help("import", "users")
    assert "Required: external_id." in users, users
    assert "docs/importing.md" in users
    group = _help("import")
    assert "users first, then events" in group, group
    assert "[import.mappings.NAME]" in group and "winback refresh" in group, group


def test_a_gbk_mappings_export_saved_as_excels_csv_utf8_is_read_as_utf8(cli, db, config, members, tmp_path):
    # The shop's export moved to Excel's "CSV UTF-8" (with a byte order mark) while the saved mapping still says
    # encoding = "gbk": read as GBK, the header was mojibake ('浼氬憳缂栧彿') and every mapped column "not in the
    # file". A UTF-8 byte order mark is never how GBK text starts.
    orders = tmp_path / "orders.csv"
    orders.write_text("会员编号,下单时间,实付金额,订单状态\nM001,25-11-2026 09:30,¥12.50,已完成\n", encoding="utf-8-sig")
    result = cli("--config", str(config), "import", "events", str(orders), "--mapping", "shop", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 1
    assert db.execute("SELECT amount FROM events").fetchall() == [(12.5,)]


def test_a_file_without_a_kind_column_is_told_about_kind(cli, db, members, tmp_path):
    # README's tour imports orders.csv with --kind order; without it the refusal offered only --map kind=….
    orders = tmp_path / "orders.csv"
    orders.write_text("user_id,at,amount\nM001,2026-11-25 09:00,12\n", encoding="utf-8")
    result = cli("import", "events", str(orders))
    assert result.exit_code == 2
    assert "missing required column 'kind'" in said(result)
    assert "give the kind of every row with --kind (e.g. --kind order), or rename a column with --map " \
           "kind=YOUR_COLUMN" in said(result), said(result)


def test_a_refusal_counts_the_rows_the_where_left_out_too(cli, db, config, members, tmp_path):
    # '1 of 2 rows is invalid' of a file of 3 rows read as a miscount: the third was left out by the where.
    orders = tmp_path / "orders.csv"
    orders.write_bytes("会员编号,下单时间,实付金额,订单状态\n"
                       "M001,25-11-2026 09:30,12,已完成\n"
                       "M001,26-11-2026 09:30,twelve,已完成\n"
                       "M002,27-11-2026 09:30,12,已退款\n".encode("gbk"))
    result = cli("--config", str(config), "import", "events", str(orders), "--mapping", "shop")
    assert result.exit_code == 2
    assert ("1 of 2 rows in orders.csv is invalid (1 error; 1 more row left out by the mapping's where); "
            "nothing was imported.") in said(result), said(result)


def test_jsonl_numbers_a_dataframe_wrote_as_floats_are_read_as_the_integers_they_are(cli, db, tmp_path):
    # pandas writes an integer column holding a gap as floats: {"user_id": 1001.0, "at": 1764400000.0}.
    users = tmp_path / "u.csv"
    users.write_text("external_id\n1001\n", encoding="utf-8")
    assert cli("import", "users", str(users)).exit_code == 0
    events = tmp_path / "e.jsonl"
    events.write_text('{"user_id": 1001.0, "kind": "visit", "at": 1764400000.0, "amount": 5.0}\n'
                      '{"user_id": 1001, "kind": "visit", "at": 1764400060, "amount": 2.5}\n', encoding="utf-8")
    result = cli("import", "events", str(events), "--json")
    assert result.exit_code == 0, result.output
    assert db.execute("SELECT at, amount FROM events ORDER BY at").fetchall() == [(1764400000, 5.0), (1764400060, 2.5)]


def test_a_day_first_or_unknown_time_says_a_saved_mapping_can_read_it(cli, db, members, tmp_path):
    # Rewriting a 10,000-row export by hand is not the way: a saved mapping's date_format reads its own shape.
    orders = tmp_path / "orders.csv"
    orders.write_text("user_id,kind,at\nM001,order,25/11/2026 09:00\nM001,order,Nov 25 2026 9am\n", encoding="utf-8")
    result = cli("import", "events", str(orders))
    assert result.exit_code == 2
    assert ("orders.csv:2: at: '25/11/2026 09:00' is ambiguous (day/month or month/day?): write the year first, "
            "e.g. 2026-11-25 09:00, or read the file with a saved mapping's date_format, e.g. "
            "date_format = \"%d/%m/%Y %H:%M\" (docs/importing.md)") in said(result), said(result)
    assert ("orders.csv:3: at: 'Nov 25 2026 9am' is not a time (use e.g. 2026-11-25 09:00 or "
            "2026-11-25T09:00:00+08:00, or a saved mapping's date_format: docs/importing.md)") in said(result)


def test_a_users_mapping_given_to_an_events_import_is_said_to_be_one(cli, db, config, members, tmp_path):
    config.write_text(SHOP + '\n[import.mappings.crm.columns]\n"会员编号" = "external_id"\n', encoding="utf-8")
    orders = tmp_path / "orders.csv"
    orders.write_text("会员编号,下单时间\nM001,2026-11-25 09:00\n", encoding="utf-8")
    result = cli("--config", str(config), "import", "events", str(orders), "--mapping", "crm")
    assert result.exit_code == 2
    assert ("[import.mappings.crm.columns] 会员编号: 'external_id' is a column of users, not of events: is "
            "mapping 'crm' for `winback import users`?") in said(result), said(result)


@pytest.mark.parametrize("header", ["import.mapping.shop", "imports.mappings.shop", "mappings.shop"])
def test_a_mapping_written_under_another_table_says_where_it_was_found(cli, db, config, members, tmp_path, header):
    config.write_text(f'[{header}]\nkind = "order"\n', encoding="utf-8")
    orders = tmp_path / "orders.csv"
    orders.write_text("user_id,at\nM001,2026-11-25 09:00\n", encoding="utf-8")
    result = cli("--config", str(config), "import", "events", str(orders), "--mapping", "shop")
    assert result.exit_code == 2
    assert (f"no [import.mappings.shop] in {config} (saved mappings: none); it is written as [{header}]: "
            "rename that table [import.mappings.shop]") in said(result), said(result)


def test_winback_init_shows_a_saved_mapping_that_works_once_uncommented(tmp_path):
    # An operator opening winback.toml saw no word of [import.mappings]: the feature was found only in the docs.
    from console.config import default_config_text, load_config
    from console.importing.mappings import load_mapping

    text = default_config_text()
    block = text[text.index("# [import.mappings.shop]"):].split("\n\n")[0]
    uncommented = "\n".join(line[2:] if line.startswith("# ") else line for line in block.splitlines()[0:])
    path = tmp_path / "winback.toml"
    path.write_text(uncommented + "\n", encoding="utf-8")
    saved = load_mapping(load_config(path), "shop", ("user_id", "kind", "at", "amount"), "events")
    assert saved.kind == "order" and saved.columns["会员编号"] == "user_id" and saved.where


def test_encoding_auto_on_the_command_line_overrides_the_mappings_encoding(cli, db, config, members, tmp_path):
    # docs: "--encoding given on the command line overrides the mapping's" — but auto, the option's default, was
    # taken as not given, so a UTF-8 file (no BOM) could not be read with a gbk mapping at all.
    orders = tmp_path / "orders.csv"
    orders.write_text("会员编号,下单时间,实付金额,订单状态\nM001,25-11-2026 09:30,12.50,已完成\n", encoding="utf-8")
    result = cli("--config", str(config), "import", "events", str(orders), "--mapping", "shop", "--encoding", "auto")
    assert result.exit_code == 0, result.output
    assert db.execute("SELECT amount FROM events").fetchall() == [(12.5,)]
