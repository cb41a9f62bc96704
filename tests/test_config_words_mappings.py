"""[import.mappings.NAME] in winback.toml: a bad setting is a ConfigError (exit 2) said with the file, the line and
the setting (it was BadInput naming the table, never the line), before any row is read."""

from __future__ import annotations

from tests.config_words_support import init_toml, one_error


def _mapping(toml, body: str) -> None:   # type: ignore[no-untyped-def]
    with toml.open("a", encoding="utf-8") as file:
        file.write("\n[import.mappings.shop]\n" + body)


def test_a_bad_mapping_setting_names_the_file_line_and_setting(cli, tmp_path):
    toml = init_toml()
    _mapping(toml, 'kind = "order"\namount_format = "euro"\n')
    line = len(toml.read_text(encoding="utf-8").splitlines())
    (tmp_path / "orders.csv").write_text("user_id,at,amount\nu1,2026-11-01,10\n", encoding="utf-8")
    said = one_error(cli("import", "events", str(tmp_path / "orders.csv"), "--mapping", "shop"))
    assert said.startswith(f"error: winback.toml line {line}: [import.mappings.shop] amount_format: 'euro': use one "
                           "of plain, decimal_comma"), said


def test_a_bad_where_in_a_mapping_names_the_file_line_and_setting(cli, tmp_path):
    toml = init_toml()
    _mapping(toml, 'where = ["status is refunded"]\nkind = "order"\n')
    line = len(toml.read_text(encoding="utf-8").splitlines()) - 1
    (tmp_path / "orders.csv").write_text("user_id,at,amount,status\nu1,2026-11-01,10,paid\n", encoding="utf-8")
    said = one_error(cli("import", "events", str(tmp_path / "orders.csv"), "--mapping", "shop"))
    assert said.startswith(f"error: winback.toml line {line}: [import.mappings.shop] where: 'status is refunded': "
                           "write COLUMN = 'value'"), said
