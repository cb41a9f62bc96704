"""`--encoding auto` reads valid UTF-8 Chinese text as UTF-8, however short, and still finds real GBK exports."""

from __future__ import annotations

import pytest

# Tiny UTF-8 files whose bytes also happen to be valid GB18030: charset-normalizer judged them GBK, and the names
# were stored as mojibake without a word.
UTF8_ALSO_VALID_GBK = [
    "external_id,name\nu1,王芳\u200b王\n",
    "external_id,name\nu1,王芳\nu2,\u200b王\n",
    "\u200b王芳王\n",
]


@pytest.mark.parametrize("text", UTF8_ALSO_VALID_GBK)
def test_tiny_utf8_chinese_with_a_zero_width_space_is_utf8(tmp_path, text):
    from console.importing.reading import detect_encoding

    path = tmp_path / "users.csv"
    path.write_bytes(text.encode("utf-8"))
    text.encode("utf-8").decode("gb18030")  # the trap: a GBK reading exists
    assert detect_encoding(path, "auto") == "utf-8-sig"


def test_a_tiny_utf8_users_file_imports_its_names_unchanged(cli, db, tmp_path):
    path = tmp_path / "users.csv"
    path.write_bytes("external_id,name\nu1,王芳\u200b王\n".encode("utf-8"))
    result = cli("import", "users", str(path))
    assert result.exit_code == 0, result.output
    assert db.execute("SELECT name FROM users WHERE external_id = 'u1'").fetchone()[0] in ("王芳\u200b王", "王芳王")


@pytest.mark.parametrize("text", [
    "external_id,name\nu1,王芳\n",                       # short, not valid UTF-8
    "external_id,name\nu1,王芳\nu2,李娜\nu3,张伟\n",
    "user_id,kind,at,category\r\nu1,order,2026/11/25 9:00,女鞋\r\n",  # GBK that is valid UTF-8 (reads ŮЬ)
    "external_id,name,city\n" + "".join(f"u{i},王芳{i},北京\n" for i in range(200)),
])
def test_real_gbk_exports_short_and_long_are_still_gbk(tmp_path, text):
    from console.importing.reading import detect_encoding

    path = tmp_path / "f.csv"
    path.write_bytes(text.encode("gbk"))
    assert detect_encoding(path, "auto") == "gb18030"


def test_a_tiny_gbk_users_file_imports_its_names(cli, db, tmp_path):
    path = tmp_path / "users.csv"
    path.write_bytes("external_id,name\nu1,王芳\n".encode("gbk"))
    result = cli("import", "users", str(path))
    assert result.exit_code == 0, result.output
    assert db.execute("SELECT name FROM users WHERE external_id = 'u1'").fetchone()[0] == "王芳"
