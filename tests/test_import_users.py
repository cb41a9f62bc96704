"""`winback import users`: formats, encodings, validation that changes nothing, upsert, consents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

HEADER = "external_id,name,phone,email,timezone,signup_at,consent_sms,consent_email,vip"
GOOD = [
    "u1,王芳,13812345678,Fang.Wang@Example.COM,Asia/Shanghai,2026-01-05 09:30,是,yes,gold",
    "u2,Li Lei,+86 139 0000 1111,,Europe/London,2025/12/01,no,,silver",
]


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def state(db) -> list:
    """Everything an import may touch, to prove a refused import changed nothing."""
    return [
        db.execute("SELECT * FROM users ORDER BY id").fetchall(),
        db.execute("SELECT * FROM consents ORDER BY id").fetchall(),
        db.execute("SELECT count(*) FROM audit").fetchone()[0],
    ]


def said(result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def user(db, ext: str) -> dict:
    row = db.query("SELECT * FROM users WHERE external_id = ?", [ext])
    return next(row)


def test_import_users_normalises_and_keeps_extras(cli, db, tmp_path):
    result = cli("import", "users", str(write(tmp_path / "users.csv", [HEADER, *GOOD])))
    assert result.exit_code == 0, result.output
    u1 = user(db, "u1")
    assert u1["name"] == "王芳"
    assert u1["phone"] == "+8613812345678"
    assert u1["email"] == "Fang.Wang@example.com"
    assert u1["timezone"] == "Asia/Shanghai"
    assert u1["signup_at"] == 1767576600  # 2026-01-05 09:30 in Asia/Shanghai
    assert json.loads(u1["attributes"]) == {"vip": "gold"}
    assert user(db, "u2")["phone"] == "+8613900001111"
    assert user(db, "u2")["signup_at"] == 1764518400  # 2025-12-01 00:00 +08:00
    consents = db.execute(
        "SELECT u.external_id, channel, status, source FROM consents c JOIN users u ON u.id = c.user_id"
        " ORDER BY 1, 2").fetchall()
    assert consents == [
        ("u1", "email", "granted", "import:users.csv"),
        ("u1", "sms", "granted", "import:users.csv"),
        ("u2", "sms", "withdrawn", "import:users.csv"),
    ]
    audit = db.execute("SELECT action, details FROM audit").fetchall()
    assert audit[-1][0] == "import.users" and json.loads(audit[-1][1])["inserted"] == 2


def test_reimport_changes_nothing_and_changes_append_consent(cli, db, tmp_path):
    path = write(tmp_path / "users.csv", [HEADER, *GOOD])
    assert cli("import", "users", str(path)).exit_code == 0
    before = state(db)[:2]
    again = cli("import", "users", str(path), "--json")
    assert again.exit_code == 0
    report = json.loads(again.stdout)
    assert (report["inserted"], report["updated"], report["unchanged"], report["consents"]) == (0, 0, 2, 0)
    assert state(db)[:2] == before

    # u2 now agrees to SMS; an empty cell keeps what is stored.
    write(path, ["external_id,consent_sms,name", "u2,1,"])
    assert cli("import", "users", str(path)).exit_code == 0
    rows = db.execute("SELECT status FROM consents c JOIN users u ON u.id = c.user_id"
                      " WHERE u.external_id = 'u2' AND channel = 'sms' ORDER BY c.id").fetchall()
    assert rows == [("withdrawn",), ("granted",)]
    assert user(db, "u2")["name"] == "Li Lei"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("u3,张三,1381234,,,,,,", "users.csv:3: phone: '1381234' is not a valid phone number for region CN"),
        ("u3,张三,010-12345678,,,,,,", "phone: '010-12345678' is a landline"),
        ("u3,张三,,not-an-email,,,,,", "users.csv:3: email: 'not-an-email' is not a valid email address"),
        ("u3,张三,,,Mars/Base,,,,", "timezone: 'Mars/Base' is not an IANA time zone"),
        ("u3,张三,,,,next tuesday,,,", "signup_at: 'next tuesday' is not a time"),
        ("u3,张三,,,,,maybe,,", "consent_sms: 'maybe' is not a consent value"),
        (",张三,,,,,,,", "external_id: empty"),
        ("u3,张三,,,,,,", "the row has 8 fields, the header has 9"),
    ],
)
def test_a_bad_row_refuses_the_whole_file(cli, db, tmp_path, line, expected):
    before = state(db)
    result = cli("import", "users", str(write(tmp_path / "users.csv", [HEADER, GOOD[0], line])))
    assert result.exit_code == 2
    assert expected in said(result)
    assert "nothing was imported" in said(result)
    assert state(db) == before


def test_errors_are_counted_beyond_the_first_fifty(cli, db, tmp_path):
    lines = [HEADER] + [f"u{i},n,12345,,,,,," for i in range(70)]
    result = cli("import", "users", str(write(tmp_path / "users.csv", lines)))
    assert result.exit_code == 2
    assert "70 of 70 rows" in said(result)
    assert "users.csv:51: phone" in said(result)
    assert "users.csv:52: phone" not in said(result)
    assert "and 20 more" in said(result)
    assert state(db)[0] == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        ("name,phone\n张三,13812345678\n", "missing required column 'external_id'"),
        ("external_id,name\n", "has a header but no rows"),
    ],
)
def test_file_level_problems_are_clear_messages(cli, db, tmp_path, content, expected):
    path = tmp_path / "users.csv"
    path.write_text(content, encoding="utf-8")
    result = cli("import", "users", str(path))
    assert result.exit_code == 2
    assert expected in said(result)
    assert "Traceback" not in said(result)
    assert state(db)[0] == []


def test_unknown_encoding_and_missing_file(cli, db, tmp_path):
    path = write(tmp_path / "users.csv", [HEADER, *GOOD])
    result = cli("import", "users", str(path), "--encoding", "klingon")
    assert result.exit_code == 2 and "--encoding 'klingon'" in said(result)
    result = cli("import", "users", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2 and "no such file" in said(result)
    assert state(db)[0] == []


def test_gbk_file_from_excel(cli, db, tmp_path):
    path = tmp_path / "客户.csv"
    path.write_bytes("external_id,name,region\r\nc1,张伟,广东\r\n".encode("gbk"))
    assert cli("import", "users", str(path)).exit_code == 0
    assert (user(db, "c1")["name"], user(db, "c1")["region"]) == ("张伟", "广东")


def test_gbk_file_read_as_utf8_is_refused(cli, db, tmp_path):
    path = tmp_path / "users.csv"
    path.write_bytes("external_id,name\r\nc1,张伟\r\n".encode("gbk"))
    result = cli("import", "users", str(path), "--encoding", "utf-8")
    assert result.exit_code == 2 and "not valid utf-8" in said(result)
    assert state(db)[0] == []


def test_bom_and_semicolons(cli, db, tmp_path):
    path = tmp_path / "users.csv"
    path.write_bytes("\ufeffexternal_id;name;phone\r\nb1;Zoë;13812345678\r\n".encode())
    assert cli("import", "users", str(path)).exit_code == 0
    assert (user(db, "b1")["name"], user(db, "b1")["phone"]) == ("Zoë", "+8613812345678")


def test_tabs_and_column_mapping(cli, db, tmp_path):
    path = write(tmp_path / "export.tsv", ["会员号\t手机\t姓名", "m1\t13812345678\t李雷"])
    result = cli("import", "users", str(path), "--map", "external_id=会员号", "--map", "phone=手机",
                 "--map", "name=姓名")
    assert result.exit_code == 0, result.output
    assert (user(db, "m1")["phone"], user(db, "m1")["name"]) == ("+8613812345678", "李雷")
    bad = cli("import", "users", str(path), "--map", "external_id=nope")
    assert bad.exit_code == 2 and "'nope', which is not in the file" in said(bad)


def test_jsonl_users(cli, db, tmp_path):
    path = tmp_path / "users.jsonl"
    path.write_text(
        '{"external_id": "j1", "phone": "13812345678", "consent_push": true, "tags": ["a", "b"]}\n'
        "\n"
        '{"external_id": 2, "name": "Two"}\n',
        encoding="utf-8",
    )
    assert cli("import", "users", str(path)).exit_code == 0
    assert json.loads(user(db, "j1")["attributes"]) == {"tags": ["a", "b"]}
    assert user(db, "2")["name"] == "Two"
    assert db.execute("SELECT channel, status FROM consents").fetchall() == [("push", "granted")]


def test_bad_json_line_is_named(cli, db, tmp_path):
    path = tmp_path / "users.jsonl"
    path.write_text('{"external_id": "j1"}\n{"external_id": \n', encoding="utf-8")
    result = cli("import", "users", str(path))
    assert result.exit_code == 2 and "users.jsonl:2: not valid JSON" in said(result)
    assert state(db)[0] == []


def test_skip_invalid_writes_rejects_beside_the_input(cli, db, tmp_path):
    path = write(tmp_path / "users.csv", [HEADER, GOOD[0], "u9,坏,123,,,,,,", GOOD[1]])
    result = cli("import", "users", str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert [r[0] for r in db.execute("SELECT external_id FROM users ORDER BY id")] == ["u1", "u2"]
    rejects = (tmp_path / "users.csv.rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rejects[0] == "line,error," + HEADER
    assert rejects[1].startswith("3,phone: '123' is not a valid phone number for region CN,u9,坏,123")
    assert len(rejects) == 2


def test_dry_run_writes_nothing(cli, db, tmp_path):
    before = state(db)
    result = cli("import", "users", str(write(tmp_path / "users.csv", [HEADER, *GOOD])), "--dry-run")
    assert result.exit_code == 0 and "2 of 2 rows valid" in said(result)
    assert state(db) == before


def test_phone_fast_path_agrees_with_phonenumbers():
    import random

    from console.importing.values import PhoneParser

    parser = PhoneParser("CN")
    rng = random.Random(3)
    for _ in range(3000):
        number = "1" + "".join(rng.choice("0123456789") for _ in range(rng.choice([9, 10, 10, 10, 11])))
        try:
            slow = parser._slow(number)
        except ValueError:
            slow = None
        try:
            fast = parser(number)
        except ValueError:
            fast = None
        assert fast == slow, number


def test_line_numbers_count_quoted_newlines_and_blank_lines(cli, db, tmp_path):
    path = write(tmp_path / "users.csv", ["external_id,name,phone", 'q1,"two', 'lines",13812345678', "",
                                          "q2,x,999"])
    result = cli("import", "users", str(path))
    assert result.exit_code == 2 and "users.csv:5: phone: '999'" in said(result)


def test_large_files_are_checked_in_a_second_process(cli, db, tmp_path, monkeypatch):
    from console.importing import pipeline, users

    monkeypatch.setattr(pipeline, "PIPELINE_MIN_BYTES", 0)
    monkeypatch.setattr(users, "BATCH", 1)
    path = write(tmp_path / "users.csv", [HEADER, *GOOD])
    assert cli("import", "users", str(path)).exit_code == 0
    assert user(db, "u1")["phone"] == "+8613812345678"
    before = state(db)
    result = cli("import", "users", str(write(path, [HEADER, GOOD[0], "u3,x,555,,,,,,"])))
    assert result.exit_code == 2 and "users.csv:3: phone: '555'" in said(result)
    assert state(db) == before


def test_bulk_mode_rebuilds_the_users_indexes(cli, db, tmp_path, monkeypatch):
    from console.importing import users

    monkeypatch.setattr(users, "BULK_MIN_BYTES", 0)
    indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'users' ORDER BY name").fetchall()
    path = write(tmp_path / "users.csv", [HEADER, *GOOD])
    assert cli("import", "users", str(path)).exit_code == 0
    assert db.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'users' ORDER BY name").fetchall() \
        == indexes
    before = state(db)
    assert cli("import", "users", str(write(path, [HEADER, "u5,x,5,,,,,,"]))).exit_code == 2
    assert state(db) == before
    assert db.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'users' ORDER BY name").fetchall() \
        == indexes


def test_a_user_listed_twice_takes_the_last_values(cli, db, tmp_path):
    path = write(tmp_path / "users.csv", ["external_id,name,consent_sms,consent_email",
                                          "d1,First,yes,yes", "d1,Second,no,"])
    result = cli("import", "users", str(path), "--json")
    assert result.exit_code == 0
    assert user(db, "d1")["name"] == "Second"
    assert db.execute("SELECT channel, status FROM consents ORDER BY channel").fetchall() == [
        ("email", "granted"), ("sms", "withdrawn")]


def test_errors_name_the_files_own_column_when_mapped(cli, db, tmp_path):
    # With --map phone=手机 the operator looks for 手机 in the spreadsheet, not phone.
    path = tmp_path / "crm.csv"
    path.write_text("会员,手机\nC1,13812345678\nC2,1381234\n", encoding="gbk")
    before = state(db)
    result = cli("import", "users", str(path), "--map", "external_id=会员", "--map", "phone=手机")
    assert result.exit_code == 2
    assert "crm.csv:3: 手机 (phone): '1381234' is not a valid phone number" in said(result)
    assert "1 of 2 rows in crm.csv is invalid (1 error)" in said(result)
    assert state(db) == before
    result = cli("import", "users", str(path), "--map", "external_id=会员", "--map", "phone=手机", "--skip-invalid")
    assert result.exit_code == 0
    assert "1 invalid row skipped" in said(result)
    rejects = (tmp_path / "crm.csv.rejects.csv").read_text(encoding="utf-8-sig")
    assert "手机 (phone): '1381234'" in rejects


def test_a_trailing_delimiter_from_excel_is_not_an_unnamed_column_error(cli, db, tmp_path):
    # Excel (and many exports) end every line with the delimiter: "a,b," — an empty, unnamed last column.
    path = write(tmp_path / "users.csv", ["external_id,name,", "t1,Ann,", "t2,Bob,extra", ""])
    result = cli("import", "users", str(path))
    assert result.exit_code == 0, result.output
    assert user(db, "t1")["name"] == "Ann"
    assert user(db, "t1")["attributes"] in (None, "{}")
    assert json.loads(user(db, "t2")["attributes"]) == {"column 3": "extra"}  # a stray value is kept, not lost


def test_a_workbook_named_csv_is_named_for_what_it_is(cli, db, tmp_path):
    import zipfile

    path = tmp_path / "users.csv"
    with zipfile.ZipFile(path, "w") as z:  # what Excel's .xlsx is; operators rename them .csv
        z.writestr("xl/workbook.xml", "<workbook/>")
    before = state(db)
    result = cli("import", "users", str(path))
    assert result.exit_code == 2
    assert "Excel workbook (.xlsx)" in said(result) and "CSV UTF-8" in said(result)
    assert state(db) == before


def test_utf16_without_a_byte_order_mark_is_read(cli, db, tmp_path):
    path = tmp_path / "users.txt"
    path.write_bytes("external_id\tname\r\nw1\t张三\r\n".encode("utf-16-le"))
    result = cli("import", "users", str(path))
    assert result.exit_code == 0, result.output
    assert user(db, "w1")["name"] == "张三"


def test_map_matches_columns_case_insensitively_and_refuses_near_misses(cli, db, tmp_path):
    path = write(tmp_path / "crm.csv", ["ID,Mobile", "k1,13812345678"])
    before = state(db)
    typo = cli("import", "users", str(path), "--map", "external_id=id", "--map", "phnoe=mobile")
    assert typo.exit_code == 2  # else the phone numbers would land, silently, in an attribute called phnoe
    assert "'phnoe' is not a column winback reads; did you mean --map phone=mobile?" in said(typo)
    assert state(db) == before
    result = cli("import", "users", str(path), "--map", "External_ID=id", "--map", "phone=MOBILE")
    assert result.exit_code == 0, result.output
    assert user(db, "k1")["phone"] == "+8613812345678"
    extra = cli("import", "users", str(path), "--map", "external_id=id", "--map", "vip_level=mobile")
    assert extra.exit_code == 0, extra.output  # renaming an extra column is fine
    assert json.loads(user(db, "k1")["attributes"]) == {"vip_level": "13812345678"}


def test_a_json_array_file_is_refused_once_with_how_to_convert(cli, db, tmp_path):
    path = tmp_path / "users.json"
    path.write_text('[\n  {"external_id": "a1"},\n  {"external_id": "a2"}\n]\n', encoding="utf-8")
    before = state(db)
    result = cli("import", "users", str(path))
    assert result.exit_code == 2
    assert "users.json: this is one JSON array, not JSON Lines" in said(result) and "jq -c" in said(result)
    assert state(db) == before


def test_a_file_of_ids_and_consents_only_is_imported(cli, db, tmp_path):
    # No profile column: the opt-in export a CRM gives is just the id and the consent (this crashed with
    # "Incorrect number of bindings": the id was unpacked into its characters).
    assert cli("import", "users", str(write(tmp_path / "users.csv", [HEADER, *GOOD]))).exit_code == 0
    result = cli("import", "users", str(write(tmp_path / "optin.csv", ["external_id,consent_sms", "u1,否", "u77,是"])))
    assert result.exit_code == 0, result.output
    assert user(db, "u1")["name"] == "王芳"  # kept
    assert user(db, "u77")["name"] is None
    statuses = db.execute("SELECT u.external_id, c.status FROM consents c JOIN users u ON u.id = c.user_id"
                          " WHERE c.source = 'import:optin.csv' ORDER BY 1").fetchall()
    assert statuses == [("u1", "withdrawn"), ("u77", "granted")]


def test_phone_columns_mangled_by_spreadsheets(cli, db, tmp_path):
    # pandas/Excel number columns: 13812345678.0 keeps every digit (read); 1.38123E+10 has lost them (refused, with why).
    path = write(tmp_path / "users.csv", ["external_id,phone", "f1,13812345678.0", "f2,1.38123E+10"])
    before = state(db)
    result = cli("import", "users", str(path))
    assert result.exit_code == 2
    assert "users.csv:3: phone: '1.38123E+10' is in scientific notation" in said(result)
    assert "Text in Excel" in said(result) and "users.csv:2" not in said(result)
    assert state(db) == before
    assert cli("import", "users", str(path), "--skip-invalid").exit_code == 0
    assert user(db, "f1")["phone"] == "+8613812345678"


def test_gbk_text_after_the_sniffed_start_is_named_by_line(cli, db, tmp_path):
    # Detection reads the first 64 KB; a GBK name further down fails as UTF-8 — say on which line, and what to pass.
    path = tmp_path / "late.csv"
    rows = "".join(f"L{i},name{i}\n" for i in range(5000))
    path.write_bytes(b"external_id,name\n" + rows.encode() + "L9999,王芳\n".encode("gbk"))
    before = state(db)
    result = cli("import", "users", str(path))
    assert result.exit_code == 2
    assert "late.csv: not valid utf-8 text at line 5,002" in said(result)
    assert said(result).endswith("pass --encoding gbk")
    assert state(db) == before
    assert cli("import", "users", str(path), "--encoding", "gbk").exit_code == 0
    assert user(db, "L9999")["name"] == "王芳"


def test_consent_as_chinese_crm_exports_write_it(cli, db, tmp_path):
    path = write(tmp_path / "optin.csv", ["external_id,consent_sms", "q1,同意", "q2,不同意", "q3,已同意", "q4,未同意",
                                          "q5,1.0"])
    result = cli("import", "users", str(path))
    assert result.exit_code == 0, result.output
    statuses = db.execute("SELECT u.external_id, c.status FROM consents c JOIN users u ON u.id = c.user_id"
                          " ORDER BY 1").fetchall()
    assert statuses == [("q1", "granted"), ("q2", "withdrawn"), ("q3", "granted"), ("q4", "withdrawn"),
                        ("q5", "granted")]


def test_consents_of_new_users_listed_twice_land_on_the_right_users(cli, db, tmp_path):
    """The swap appends consent rows worked out before it, with the ids the upsert gives new users (in file
    order, a repeated user keeping their first id): each row must belong to the user its cell was on."""
    assert cli("import", "users", str(write(tmp_path / "first.csv", ["external_id,consent_sms", "a0,yes"]))
               ).exit_code == 0
    path = write(tmp_path / "users.csv", ["external_id,name,consent_sms,consent_email",
                                          "n1,One,yes,", "a0,Old,,no", "n2,Two,no,yes", "n1,One again,,yes",
                                          "n3,Three,yes,"])
    result = cli("import", "users", str(path), "--json")
    assert result.exit_code == 0
    rows = db.execute("SELECT u.external_id, c.channel, c.status FROM consents c JOIN users u ON u.id = c.user_id"
                      " WHERE c.source = 'import:users.csv' ORDER BY u.external_id, c.channel").fetchall()
    assert rows == [("a0", "email", "withdrawn"), ("n1", "email", "granted"), ("n1", "sms", "granted"),
                    ("n2", "email", "granted"), ("n2", "sms", "withdrawn"), ("n3", "sms", "granted")]
    assert [r[0] for r in db.execute("SELECT external_id FROM users ORDER BY id")] == ["a0", "n1", "n2", "n3"]


def test_a_first_import_gives_each_new_user_their_own_consents(cli, db, tmp_path):
    """The usual first import (every user new, each listed once): consent rows are prepared by staged row number."""
    path = write(tmp_path / "users.csv", ["external_id,consent_sms,consent_email", "f1,yes,", "f2,,no", "f3,no,yes"])
    assert cli("import", "users", str(path)).exit_code == 0
    rows = db.execute("SELECT u.external_id, c.channel, c.status FROM consents c JOIN users u ON u.id = c.user_id"
                      " ORDER BY u.external_id, c.channel").fetchall()
    assert rows == [("f1", "sms", "granted"), ("f2", "email", "withdrawn"), ("f3", "email", "granted"),
                    ("f3", "sms", "withdrawn")]


def test_a_cell_longer_than_500_characters_is_refused_and_one_of_500_is_not(cli, db, tmp_path):
    # The reader passes on a bound of its batch's cell lengths (the longest line): a 500-character name on a
    # 520-character line must still be read, a 501-character one refused.
    before = state(db)
    path = write(tmp_path / "users.csv", ["external_id,name", "u1," + "名" * 500, "u2," + "名" * 501])
    result = cli("import", "users", str(path))
    assert result.exit_code == 2 and "users.csv:3: name: longer than 500 characters" in said(result)
    assert "users.csv:2" not in said(result)
    assert state(db) == before


def test_an_import_stamps_its_time_and_only_the_consent_columns_it_has(cli, db, tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", "2026-03-01T08:00:00+08:00")
    path = write(tmp_path / "users.csv", ["external_id,phone,consent_email", "u1,13812345678,yes", "u2,,no"])
    assert cli("import", "users", str(path)).exit_code == 0
    rows = db.execute("SELECT created_at, updated_at FROM users ORDER BY id").fetchall()
    assert rows == [(1772323200, 1772323200)] * 2
    consents = db.execute("SELECT user_id, channel, status FROM consents ORDER BY id").fetchall()
    assert consents == [(1, "email", "granted"), (2, "email", "withdrawn")]


def test_a_first_import_appends_every_consent_cell_at_the_stated_time(cli, db, tmp_path):
    # No user of the file is stored yet: the swap appends the cells straight from the staged rows (user n is
    # staged row n), user by user and each user's channels by name — the order of the consents index, so its
    # entries are appended, not inserted between others —, dated at --consent-at; a re-import then adds nothing.
    path = write(tmp_path / "users.csv", ["external_id,consent_sms,consent_email", "a,yes,", "b,no,1", "c,,否"])
    first = cli("import", "users", str(path), "--consent-at", "2026-11-02T09:00:00+08:00", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["consents"] == 4
    ids = dict(db.execute("SELECT external_id, id FROM users").fetchall())
    consents = db.execute("SELECT user_id, channel, status, at FROM consents ORDER BY id").fetchall()
    at = 1793581200  # 2026-11-02T09:00:00+08:00
    assert consents == [(ids["a"], "sms", "granted", at), (ids["b"], "email", "granted", at),
                        (ids["b"], "sms", "withdrawn", at), (ids["c"], "email", "withdrawn", at)]
    again = cli("import", "users", str(path), "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["consents"] == 0


@pytest.mark.parametrize("order", ["sorted", "shuffled", "repeated"])
def test_a_first_imports_consents_are_the_same_whether_its_ids_come_sorted_or_not(cli, db, tmp_path, order):
    # Ids in ascending order (most exports) tell the stage that nobody is listed twice, so the consent changes
    # are prepared without numbering first appearances; any other order takes the general way. Same rows.
    from console.importing.user_side import SideAppender
    from console.importing.user_stage import UserStage

    lines = [f"u{i:02d},{'yes' if i % 2 else 'no'},{'' if i % 3 else '1'}" for i in range(12)]
    if order == "shuffled":
        lines = lines[::2] + lines[1::2]
    elif order == "repeated":
        lines = [*lines, "u03,no,0"]  # listed twice: the later line's cells win, one row per channel
    path = write(tmp_path / "users.csv", ["external_id,consent_sms,consent_email", *lines])
    db_path = db.execute("PRAGMA database_list").fetchone()[2]
    stage = UserStage(db.conn, db_path, [], 1 << 30, ["sms", "email"])
    try:
        appender = SideAppender(stage.side_spec)  # as the reader process appends the checked users
        appender.write([tuple(line.split(",")[0] for line in lines)] + [("{}",) * len(lines)] * 5)
        appender.close()
        assert appender.ascending == (order == "sorted")
    finally:
        stage.discard()
    assert cli("import", "users", str(path)).exit_code == 0
    rows = db.execute("SELECT u.external_id, c.channel, c.status FROM consents c JOIN users u ON u.id = c.user_id"
                      " ORDER BY 1, 2").fetchall()
    expected = sorted([(f"u{i:02d}", "sms", "granted" if i % 2 else "withdrawn") for i in range(12)]
                      + [(f"u{i:02d}", "email", "granted") for i in range(0, 12, 3)])
    if order == "repeated":
        expected = sorted([r for r in expected if r[0] != "u03"]
                          + [("u03", "email", "withdrawn"), ("u03", "sms", "withdrawn")])
    assert rows == expected
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 12


def test_a_side_file_that_cannot_be_written_is_said_in_words_and_changes_nothing(cli, db, tmp_path, monkeypatch):
    # The reader appends the checked users to the side file itself; when SQLite refuses (a full disk, here a
    # table that is not there), the import stops with words naming the side file (exit 1), not a traceback.
    from console.importing import user_side

    made = user_side.SideAppender.__init__

    def broken(self, spec):
        made(self, spec)
        self.insert_one = self.insert_one.replace("staged_users", "nowhere")

    monkeypatch.setattr(user_side.SideAppender, "__init__", broken)
    before = state(db)
    result = cli("import", "users", str(write(tmp_path / "users.csv", [HEADER, *GOOD])))
    assert result.exit_code == 1 and "could not stage the checked users in" in said(result)
    assert "no such table: nowhere" in said(result) and "Traceback" not in result.output
    assert state(db) == before and not list(tmp_path.glob("*.staging-*"))


def _a_reader_refused_by_the_machine():
    from console.errors import WinbackError

    raise WinbackError("the side file could not be written (test)")
    yield  # a generator, as the readers are


def test_the_reader_process_says_the_machines_refusal_in_words():
    from console.errors import BadInput, WinbackError
    from console.importing import pipeline

    with pytest.raises(WinbackError) as refused:
        list(pipeline.checked_batches(_a_reader_refused_by_the_machine, size=pipeline.PIPELINE_MIN_BYTES))
    assert str(refused.value) == "the side file could not be written (test)"
    assert not isinstance(refused.value, BadInput)  # exit 1: not the file's fault
