"""[workspace] in winback.toml: a default_region phonenumbers does not know was a ValueError traceback from
`winback import users`; now it is said with the file, the line and the key (exit 2, nothing imported)."""

from __future__ import annotations

from tests.config_words_support import change, init_toml, one_error


def test_an_unknown_phone_region_names_the_file_line_and_key_and_imports_nothing(cli, db, tmp_path):
    line = change(init_toml(), 'default_region = "CN"', 'default_region = "ZZ"')
    people = tmp_path / "people.csv"
    people.write_text("external_id,phone\nu1,13800138000\n", encoding="utf-8")
    said = one_error(cli("import", "users", str(people)))
    assert said.startswith(f"error: winback.toml line {line}: [workspace] default_region: 'ZZ' is not a phone "
                           "region"), said
    assert db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0
