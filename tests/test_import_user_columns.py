"""The users import checks a batch column by column: it must accept exactly what RowValidator accepts, with the
same values, and refuse the rest with RowValidator's messages."""

from __future__ import annotations

from console.importing.batch import Batch
from console.importing.reading import encode_attributes
from console.importing.user_checks import _CONSENT_CELLS, _UNKNOWN, MAX_TEXT, USER_COLUMNS, RowValidator
from console.importing.user_columns import check_columns

NOW = 1_796_000_000


def record(ext="u1", name="王芳", phone="13812345678", email="", zone="", signup="", sms="", mail="", push="",
           region="", locale="", token="") -> tuple:
    values = {"external_id": ext, "name": name, "phone": phone, "email": email, "region": region, "gender": "",
              "age_band": "", "occupation": "", "timezone": zone, "locale": locale, "signup_at": signup,
              "push_token": token, "consent_sms": sms, "consent_email": mail, "consent_push": push,
              "consent_call": "", "consent_gift": ""}
    return tuple(values[c] for c in USER_COLUMNS)


RECORDS = [
    record(),
    record(ext=" u2 ", name=" Li Lei ", phone="+86 139 0000 1111", email="Fang.Wang@Example.COM", sms="是"),
    record(ext="", phone=""),                                    # no id
    record(ext="x" * 201),                                       # id too long
    record(ext="u3", phone="13812345678.0", mail="YES", push="no"),  # a spreadsheet's float phone
    record(ext="u4", phone="１３８１２３４５６７８"),                 # fullwidth digits
    record(ext="u5", phone="999"),                               # not a phone
    record(ext="u6", email="not-an-email"),
    record(ext="u7", zone="Asia/Shanghai", signup="2024-01-01 00:00:00"),
    record(ext="u8", zone=" Europe/London ", signup="2025/12/01"),
    record(ext="u9", zone="Mars/Olympus"),                       # no such zone
    record(ext="u10", signup="2024-02-30 10:00:00"),              # no such day
    record(ext="u11", signup="soon"),
    record(ext="u12", signup="2024-03-01 09:30"),
    record(ext="u13", sms="maybe"),                              # not a consent word
    record(ext="u14", sms=" Yes ", mail="1.0", push="0"),
    record(ext="u15", name="名" * (MAX_TEXT + 1)),                 # too long
    record(ext="u16", region=" 广东, 深圳 ", locale="zh-CN", email=" A@B.cn "),
    record(ext="u17", phone="", email="", signup="", sms="", mail=""),
    record(ext="u1", name="again"),                              # listed twice: both rows go through
]
POSITIONS = [USER_COLUMNS.index(c) for c in ("name", "phone", "email", "region", "timezone", "locale", "signup_at")]


def one_by_one(records: list, extras: list, broken: dict) -> tuple[list[tuple], list]:
    validate = RowValidator("CN", "Asia/Shanghai")
    rows, bad = [], []
    for j, values in enumerate(records):
        if values is None:
            bad.append((100 + j, broken[j], f"raw {j}"))
            continue
        clean, consents, found = validate(values)
        if found:
            bad.append((100 + j, found, f"raw {j}"))
            continue
        attributes = encode_attributes(extras[j]) if extras[j] else None
        rows.append((clean[0], *(clean[p] for p in POSITIONS), attributes, NOW, *consents))
    return rows, bad


def test_column_wise_check_accepts_and_refuses_as_row_validator():
    records: list = [*RECORDS, None]  # and a record the reader could not read
    broken = {len(RECORDS): [("", "the row has 3 fields, the header has 14")]}
    extras = [{"vip": "gold"} if j % 3 == 0 else None for j in range(len(records))]
    batch = Batch(values=records, extras=extras, raws=[f"raw {j}" for j in range(len(records))],
                  lines=range(100, 100 + len(records)), broken=broken)
    columns, valid, bad = check_columns(batch, RowValidator("CN", "Asia/Shanghai"), POSITIONS, NOW, MAX_TEXT,
                                        _CONSENT_CELLS, _UNKNOWN)
    expected_rows, expected_bad = one_by_one(records, extras, broken)
    assert list(zip(*columns, strict=True)) == expected_rows
    assert valid == len(expected_rows) and bad == expected_bad
    assert {line for line, _, _ in bad} == {102, 103, 106, 107, 110, 111, 112, 114, 116, 120}


def test_a_batch_of_good_records_only_and_an_empty_one():
    batch = Batch(values=[record(ext=f"u{i}", signup="2024-01-01 00:00:00") for i in range(5)],
                  raws=["r"] * 5, lines=range(2, 7))
    columns, valid, bad = check_columns(batch, RowValidator("CN", "Asia/Shanghai"), POSITIONS, NOW, MAX_TEXT,
                                        _CONSENT_CELLS, _UNKNOWN)
    assert valid == 5 and not bad and columns[0] == ("u0", "u1", "u2", "u3", "u4")
    assert check_columns(Batch(), RowValidator("CN", "Asia/Shanghai"), POSITIONS, NOW, MAX_TEXT, _CONSENT_CELLS,
                         _UNKNOWN) == ([], 0, [])


def test_an_email_column_with_empty_cells_read_at_once_keeps_each_cell_in_its_place():
    # The second batch's domains are known, so the whole column is read at once and comes back as written; the
    # empty cells stay None in their places (the addresses are not shifted onto the wrong users).
    validate = RowValidator("CN", "Asia/Shanghai")
    cells = [f"u{i}@qq.com" if i % 3 else "" for i in range(9)] + ["Z@example.cn", ""]
    records = [record(ext=f"u{i}", email=cell) for i, cell in enumerate(cells)]
    for _ in range(2):  # the first batch teaches the parser the domains
        batch = Batch(values=records, raws=["r"] * len(records), lines=range(2, 2 + len(records)))
        columns, valid, bad = check_columns(batch, validate, POSITIONS, NOW, MAX_TEXT, _CONSENT_CELLS, _UNKNOWN)
        assert not bad and valid == len(records)
        assert list(zip(*columns, strict=True)) == one_by_one(records, [None] * len(records), {})[0]
        assert columns[1 + POSITIONS.index(USER_COLUMNS.index("email"))] == tuple(c or None for c in cells)
