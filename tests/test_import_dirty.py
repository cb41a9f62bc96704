"""Imports meet files as they come: big UTF-8 Chinese files, other encodings, dirty cells, hostile JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.errors import BadInput


def said(result) -> str:
    return " ".join(result.output.split())


def state(db) -> list:
    return [db.execute("SELECT * FROM users ORDER BY id").fetchall(),
            db.execute("SELECT * FROM events ORDER BY id").fetchall(),
            db.execute("SELECT count(*) FROM audit").fetchone()[0]]


def chinese_users(rows: int, pad: int = 0) -> str:
    """A users file like a Chinese CRM export: every row has multibyte text. *pad* shifts where 64 KB falls."""
    lines = ["external_id,name,phone,region,gender,note"]
    lines += [f"u{i},用户{i},+86138{i:08d},华东,M,{'x' * pad if i == 1 else ''}" for i in range(1, rows + 1)]
    return "\n".join(lines) + "\n"


# 1. Encodings ---------------------------------------------------------------------------------------------------

def test_a_large_utf8_chinese_file_is_utf8_wherever_the_sample_ends(tmp_path):
    """The detection sample (64 KB) used to end inside a character in about one file in five, and
    charset-normalizer then found no reading at all ("cannot tell which text encoding")."""
    from console.importing.reading import SAMPLE_BYTES, detect_encoding

    path = tmp_path / "users.csv"
    for pad in range(12):  # every position of the cut inside a 3-byte character, four times over
        path.write_text(chinese_users(2000, pad), encoding="utf-8")
        assert path.stat().st_size > SAMPLE_BYTES
        assert detect_encoding(path, "auto") == "utf-8-sig", pad


def test_a_large_utf8_chinese_users_file_imports(cli, db, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text(chinese_users(3000, pad=9), encoding="utf-8")  # pad 9 cut a character before the fix
    result = cli("import", "users", str(path))
    assert result.exit_code == 0, result.output
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 3000
    assert db.execute("SELECT name, region FROM users WHERE external_id = 'u2999'").fetchone() == ("用户2999", "华东")


@pytest.mark.parametrize("pad", [0, 1, 2, 11])
def test_a_large_gbk_file_is_still_gbk(cli, db, tmp_path, pad):
    path = tmp_path / "users.csv"
    path.write_bytes(chinese_users(3000, pad).encode("gbk"))
    result = cli("import", "users", str(path))
    assert result.exit_code == 0, result.output
    assert db.execute("SELECT name, region FROM users WHERE external_id = 'u3000'").fetchone() == ("用户3000", "华东")


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("external_id,name\n" + "".join(f"u{i},山田太郎さん{i}\n" for i in range(3000)), "shift_jis"),
        ("external_id,name\nu1,山田太郎\nu2,佐藤花子\n", "shift_jis"),
        ("external_id,name\n" + "".join(f"u{i},Renée Müller {i}\n" for i in range(3000)), "cp1252"),
        ("external_id,name,city\nu1,François,Besançon\n", "cp1252"),
    ],
    ids=["shift-jis-large", "shift-jis-short", "cp1252-large", "cp1252-short"],
)
def test_neither_utf8_nor_gbk_is_refused_with_advice_not_garbled(cli, db, tmp_path, text, encoding):
    path = tmp_path / "users.csv"
    path.write_bytes(text.encode(encoding))
    before = state(db)
    result = cli("import", "users", str(path))
    assert result.exit_code == 2, result.output
    assert "neither UTF-8 nor GBK" in said(result)
    assert "save it as UTF-8" in said(result) and "--encoding" in said(result)
    assert state(db) == before
    # Named, it is read as what it is.
    assert cli("import", "users", str(path), "--encoding", encoding).exit_code == 0
    assert db.execute("SELECT name FROM users WHERE external_id = 'u1'").fetchone()[0] in text


def test_short_gbk_files_are_still_found(tmp_path):
    from console.importing.reading import detect_encoding

    path = tmp_path / "f.csv"
    for text in ("external_id,name\nu1,王喆\nu2,李堃\nu3,张昇\n", "external_id,name\nu1,张三\n",
                 "user_id,kind,at,object\nu1,order,2026-01-01,连衣裙 夏季 新款\n"):
        path.write_bytes(text.encode("gbk"))
        assert detect_encoding(path, "auto") == "gb18030", text


# 3. Dirty values ------------------------------------------------------------------------------------------------

def test_fullwidth_digits_in_phones_are_normalised(cli, db, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("external_id,phone\nu1,+8613８１２３４５６７８\nu2,１３９００００１１１１\nu3,＋８６ １３７ ００００ ０２２２\n",
                    encoding="utf-8")
    result = cli("import", "users", str(path))
    assert result.exit_code == 0, result.output
    assert db.execute("SELECT phone FROM users ORDER BY external_id").fetchall() == [
        ("+8613812345678",), ("+8613900001111",), ("+8613700000222",)]


def test_a_byte_order_mark_inside_the_file_is_dropped(cli, db, tmp_path):
    """Two exports joined with `cat`: the second one's BOM lands at the start of a line."""
    users = tmp_path / "users.csv"
    users.write_bytes("\ufeffexternal_id,name\nu1,One\n".encode() + "\ufeffu2,Two\nu3,\ufeffThree\n".encode())
    assert cli("import", "users", str(users)).exit_code == 0
    assert db.execute("SELECT external_id, name FROM users ORDER BY id").fetchall() == [
        ("u1", "One"), ("u2", "Two"), ("u3", "Three")]
    events = tmp_path / "events.jsonl"
    events.write_text('{"user_id": "u1", "kind": "visit", "at": "2026-11-25"}\n'
                      '\ufeff{"user_id": "\\ufeffu2", "kind": "visit", "at": "2026-11-25", "tag": "\ufeffa"}\n',
                      encoding="utf-8")
    result = cli("import", "events", str(events))
    assert result.exit_code == 0, result.output
    assert db.execute("SELECT user_id, attributes FROM events ORDER BY id").fetchall() == [
        (1, None), (2, '{"tag":"a"}')]


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("Ann\x00", "U+0000"),
        ("\x1b[31mAnn\x1b[0m", "U+001B"),
        ('"Ann\r\nLee"', "U+000D"),
        ("Ann\x9b2J", "U+009B"),
    ],
)
def test_control_characters_in_text_are_refused_and_shown_escaped(cli, db, tmp_path, cell, shown):
    path = tmp_path / "users.csv"
    path.write_text(f"external_id,name,vip\nu1,Bob,gold\nu2,{cell},gold\nu3,Cy,\x1b]0;owned\x07\n",
                    encoding="utf-8", newline="")
    before = state(db)
    result = cli("import", "users", str(path))
    assert result.exit_code == 2
    line = 3 + cell.count("\n")  # a record is reported at the line where it ends
    assert f"users.csv:{line}: name: contains a control character ({shown})" in said(result)
    assert f"users.csv:{line + 1}: vip: contains a control character (U+001B)" in said(result)
    assert not any(ch in result.output for ch in "\x00\x1b\x9b\x07")
    assert state(db) == before
    assert cli("import", "users", str(path), "--skip-invalid").exit_code == 0
    assert db.execute("SELECT external_id FROM users").fetchall() == [("u1",)]


def test_wide_and_no_break_spaces_are_text_not_control_characters(cli, db, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("external_id\tname\tremark\nu1\t王\u3000芳\tA\u00a0B\nu2\t李雷\t\x1b[5m\n", encoding="utf-8")
    result = cli("import", "users", str(path))
    assert result.exit_code == 2 and "users.csv:3: remark: contains a control character (U+001B)" in said(result)
    assert cli("import", "users", str(path), "--skip-invalid").exit_code == 0
    assert db.execute("SELECT name, attributes FROM users").fetchall() == [("王\u3000芳", '{"remark":"A\u00a0B"}')]


def test_a_line_break_inside_a_quoted_name_is_refused_but_allowed_in_an_extra_column(cli, db, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text('external_id,name,remark\nu1,Bob,"two\r\nlines"\nu2,"Ann\nLee",\n', encoding="utf-8", newline="")
    result = cli("import", "users", str(path))
    assert result.exit_code == 2
    assert "users.csv:5: name: contains a control character (U+000A)" in said(result)
    assert "users.csv:3" not in said(result)
    assert cli("import", "users", str(path), "--skip-invalid").exit_code == 0
    assert db.execute("SELECT external_id, attributes FROM users").fetchall() == [("u1", '{"remark":"two\\r\\nlines"}')]


def test_control_characters_in_event_text_and_json_strings_are_refused(cli, db, tmp_path):
    assert cli("import", "users", str(_write(tmp_path / "u.csv", "external_id\nu1\n"))).exit_code == 0
    path = _write(tmp_path / "events.jsonl",
                  '{"user_id": "u1", "kind": "visit", "at": "2026-11-25", "object": "a\\u001b[2Jb"}\n'
                  '{"user_id": "u1", "kind": "visit", "at": "2026-11-25", "meta": {"k": ["x\\u0000"]}}\n')
    before = state(db)
    result = cli("import", "events", str(path))
    assert result.exit_code == 2
    assert "events.jsonl:1: object: contains a control character (U+001B)" in said(result)
    assert "events.jsonl:2: meta: contains a control character (U+0000)" in said(result)
    assert "\x1b" not in result.output
    assert state(db) == before


def test_data_in_error_messages_is_escaped(cli, db, tmp_path):
    """Header names, values and rich markup from a file reach the terminal as text, never as commands."""
    path = _write(tmp_path / "users.csv", "id\x1b[2J,name\nu1,A\n")
    result = cli("import", "users", str(path))
    assert result.exit_code == 2 and "a column's name contains a control character (U+001B)" in said(result)
    assert "\x1b" not in result.output and "\\x1b[2J" in said(result)
    path = _write(tmp_path / "users.csv", "id\u202e,name\nu1,A\n")  # right-to-left override: reverses the line
    result = cli("import", "users", str(path))
    assert result.exit_code == 2 and "missing required column 'external_id'" in said(result)
    assert "\u202e" not in result.output and "\\u202e" in said(result)
    path = _write(tmp_path / "users.csv", "external_id,vip\x1b[8m\nu1,A\n")
    result = cli("import", "users", str(path))
    assert result.exit_code == 2
    assert "users.csv:1: a column's name contains a control character (U+001B) in 'vip\\x1b[8m'" in said(result)
    assert "\x1b" not in result.output
    path = _write(tmp_path / "users.csv", "external_id,phone\nu1,[/red]\nu2,13812345678\n")
    result = cli("import", "users", str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "users.csv:2: phone: '[/red]' is not a phone number" in said(result)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# 4. Hostile but small input -------------------------------------------------------------------------------------

HOSTILE = [
    ('{"external_id": "u9", "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested more than 32 levels deep"),
    ('{"external_id": "u9", "x": ' + "[" * 40 + "]" * 40 + "}", "nested more than 32 levels deep"),
    ('{"external_id": "u9", "x": ' + "1" * 5000 + "}", "a number with more than 4,300 digits"),
    ('{"external_id": "u9", "name": "a\\ud800b"}', "name: contains a lone surrogate (U+D800)"),
    ('{"external_id": "u9", "\\udfff": 1}', "contains a lone surrogate (U+DFFF)"),
    ('{"external_id": "u9", "x": NaN}', "NaN is not a JSON number"),
    ('{"external_id": "u9", "x": 1e999}', "1e999 is too large for a number"),
]


@pytest.mark.parametrize(("line", "expected"), HOSTILE, ids=["deep", "deep40", "digits", "surrogate",
                                                             "surrogate-key", "nan", "overflow"])
def test_hostile_json_lines_are_refused_not_crashed_on(cli, db, tmp_path, line, expected):
    path = _write(tmp_path / "users.jsonl", '{"external_id": "u1"}\n' + line + "\n")
    before = state(db)
    for dry in ((), ("--dry-run",)):
        result = cli("import", "users", str(path), *dry)
        assert result.exit_code == 2, result.output
        assert "users.jsonl:2: " in said(result) and expected in said(result)
        assert state(db) == before
    result = cli("import", "users", str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert db.execute("SELECT external_id FROM users").fetchall() == [("u1",)]
    reject = json.loads((tmp_path / "users.jsonl.rejects.jsonl").read_text(encoding="utf-8"))
    assert reject["line"] == 2 and expected in reject["error"]


def test_a_surrogate_pair_is_an_ordinary_character(cli, db, tmp_path):
    path = _write(tmp_path / "users.jsonl", '{"external_id": "u1", "name": "\\ud83d\\ude00 Ann"}\n')
    assert cli("import", "users", str(path)).exit_code == 0
    assert db.execute("SELECT name FROM users").fetchone()[0] == "😀 Ann"


@pytest.mark.parametrize("encoding", ["rot13", "base64", "zlib", "hex"])
def test_a_codec_that_is_not_a_text_encoding_is_refused(cli, db, tmp_path, encoding):
    path = _write(tmp_path / "users.csv", "external_id\nu1\n")
    result = cli("import", "users", str(path), "--encoding", encoding)
    assert result.exit_code == 2
    assert f"--encoding {encoding!r} is not a text encoding" in said(result)


def test_detect_encoding_refuses_a_non_text_codec(tmp_path):
    from console.importing.reading import detect_encoding

    with pytest.raises(BadInput):
        detect_encoding(_write(tmp_path / "f.csv", "a\n"), "rot_13")


def test_only_chunks_with_control_characters_are_checked_record_by_record():
    """Keeps imports fast: clean text, also with wide or no-break spaces, is not looked at cell by cell."""
    import io

    from console.importing.reading import _checked_lines

    for text, delimiter, expected in [
        ("a,b\r\nc,d\r\n", ",", []),
        ("a\tb\nc\td\n", "\t", []),
        ("王\u3000芳,A\u00a0B\n", ",", []),
        ("a,b\nc,\x1bd\n", ",", [(1, 2)]),
        ("王,b\nc,\u2028d\n", ",", [(1, 2)]),
        ("a\tb\nc\t\ufeffd\n", "\t", [(1, 2)]),
    ]:
        dirty: list[tuple[int, int]] = []
        assert list(_checked_lines(io.StringIO(text, newline=""), delimiter, dirty)) == [io.StringIO(text, newline="").readlines()]
        assert dirty == expected, text
