"""Whole columns at once (console.importing.bulk_cells) give exactly what the per-cell parsers give, or step aside.

The users import reads phone and email columns with one regular-expression scan per batch; a cell the scan is not
sure of sends the whole column back to the per-cell parsers. Either way the stored values must be the same.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from console.importing.bulk_cells import Attributes, Phones, emails
from console.importing.reading import encode_attributes
from console.importing.values import EmailParser, PhoneParser

PHONES = [
    "13812345678", "+8613812345678", "008613812345678", "19912345678", "17712345678", "16612345678",
    "4001234567",       # a national service number: not a mobile
    "02112345678",      # a Shanghai landline
    "1381234567",       # a digit short
    "138123456789",     # a digit too many
    "+86 138 1234 5678", "138-1234-5678", "(138)12345678",  # junk the per-cell path strips
    "１３８１２３４５６７８",  # fullwidth digits
    "+1 415 555 2671", "12345678901", "10086", "+86", "0086", "86", "13812345678.0",
]
EMAILS = [
    "a@qq.com", "user.name@163.com", "x@QQ.com", "a@b@qq.com", "a..b@qq.com", ".a@qq.com", "a@", "@qq.com",
    "名字@qq.com", "a+tag@gmail.com", "o'brien@outlook.com", "a@sub.example.cn", "a" * 65 + "@qq.com",
    "a@" + "b" * 250 + ".com", "a b@qq.com", "a@qq.com.", "A@Gmail.COM",
]


def per_cell(parse, cells: list[str]) -> list[str | None]:
    out: list[str | None] = []
    for cell in cells:
        try:
            out.append(parse(cell))
        except ValueError:
            out.append(None)
    return out


def test_a_column_of_usual_mobiles_is_read_at_once_as_the_per_cell_parser_reads_each() -> None:
    parser = PhoneParser("CN")
    cells = ["13812345678", "+8613912345678", "008615012345678", "19912345678"]
    assert Phones(parser).parse(cells) == per_cell(parser, cells) == [
        "+8613812345678", "+8613912345678", "+8615012345678", "+8619912345678"]


def test_a_column_with_any_unusual_phone_is_left_to_the_per_cell_parser() -> None:
    phones = Phones(PhoneParser("CN"))
    for odd in PHONES[6:]:
        assert phones.parse(["13812345678", odd]) is None, odd
    assert phones.parse(["13812345678\n13912345678"]) is None  # a cell holding a line break is not two cells


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PHONES), min_size=1, max_size=6))
def test_phones_at_once_are_the_per_cell_values_or_nothing(cells: list[str]) -> None:
    parser = PhoneParser("CN")
    done = Phones(parser).parse(cells)
    assert done is None or done == per_cell(parser, cells)


def test_a_column_without_country_codes_is_decided_by_one_match_as_each_cell_by_the_per_line_pattern() -> None:
    # Without a +86/0086 prefix on any line, the whole column is one match of the same conditions (`column`);
    # a line it refuses is one the per-line pattern refuses, in every region with a column path.
    plain = [p for p in PHONES if not p.startswith(("+", "00"))] + ["1", "1" * 11, "14512345678", "8008123456"]
    for region in ("CN", "DE", "IN", "JP", "FR", "BR", "HK"):
        phones = Phones(PhoneParser(region))
        for cell in plain:
            alone = phones.column.fullmatch(cell + "\n") is not None
            assert alone == (phones.pattern.fullmatch(cell) is not None), (region, cell)
    phones = Phones(PhoneParser("CN"))
    cells = [f"1{second}{i:09d}" for second in "38" for i in range(0, 10**9, 10**7)]  # 200 usual mobiles
    assert phones.parse(cells) == per_cell(PhoneParser("CN"), cells)
    assert phones.parse([*cells, "02112345678"]) is None and phones.parse(["4001234567", *cells]) is None


def test_a_region_sharing_its_country_code_has_no_column_path() -> None:
    assert Phones(PhoneParser("US")).parse(["4155552671"]) is None  # +1 is shared: every cell goes one by one


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(EMAILS), min_size=1, max_size=6))
def test_emails_at_once_are_the_per_cell_values_or_nothing(cells: list[str]) -> None:
    parser = EmailParser()
    expected = per_cell(parser, cells)  # the per-cell parser learns the domains first
    done = emails(parser, cells)
    assert done is None or done == expected


def test_emails_of_known_domains_are_read_at_once_and_normalised_as_one_by_one() -> None:
    parser = EmailParser()
    per_cell(parser, ["first@qq.com", "first@Gmail.COM"])
    cells = ["a@qq.com", "b.c@Gmail.COM", "d@qq.com"]
    assert emails(parser, cells) == per_cell(EmailParser(), cells) == ["a@qq.com", "b.c@gmail.com", "d@qq.com"]
    assert emails(parser, ["a@unknown.example"]) is None  # not read yet: the per-cell parser decides (and learns)


def test_attributes_at_once_are_the_texts_of_the_dictionaries() -> None:
    names = ["vip_level", "城市", "a{b}", "Zeta"]
    columns = [["3", "0"], ["上海", "北京"], ["x", "y"], ["1.5", "z z"]]
    texts = Attributes(names).encode(columns)
    assert texts == [encode_attributes({n: c[j] for n, c in zip(names, columns, strict=True)}) for j in range(2)]


def test_attributes_with_an_empty_or_escaped_cell_are_left_to_the_dictionaries() -> None:
    template = Attributes(["note"])
    assert template.encode([["a", ""]]) is None  # an empty cell is left out of its record's dictionary
    assert template.encode([['say "hi"']]) is None
    assert template.encode([["back\\slash"]]) is None
    assert template.encode([["tab\there"]]) is None


def test_the_reader_stages_the_valid_users_itself_and_sends_the_writer_only_counts(tmp_path) -> None:
    # The checked users are appended to the side database where they are checked (the reader process for a
    # large file): the batches that go to the writer carry the counts, the invalid records and the position.
    import pickle
    import sqlite3

    from console.importing.user_checks import USER_COLUMNS, Spec, checked_batches
    from console.importing.user_side import SideSpec

    path = tmp_path / "users.csv"
    lines = [f"u{i:03d},1381234{i:04d},yes" for i in range(25)] + ["u900,12345,no", "u901,13912345678,maybe"]
    path.write_text("external_id,phone,consent_sms\n" + "\n".join(lines) + "\n", encoding="utf-8")
    side = tmp_path / "side.db"
    sqlite3.connect(side).execute("CREATE TABLE staged_users (external_id, phone, attributes, consent_sms)")
    spec = Spec(path=path, encoding="utf-8", format="csv", mapping={}, region="CN", timezone="Asia/Shanghai",
                positions=[USER_COLUMNS.index("phone")], now=1, batch=10,
                side=SideSpec(str(side), 4, [0, 1, 2, 4]), skip_invalid=True)
    batches = list(checked_batches(spec))
    assert [(b.rows, b.valid) for b in batches] == [(10, 10), (10, 10), (7, 5)]
    assert [line for b in batches for line, _, _ in b.bad] == [27, 28] and all(b.ascending for b in batches)
    assert len(pickle.dumps(batches[0])) < 300  # no users in it
    staged = sqlite3.connect(side).execute("SELECT * FROM staged_users ORDER BY rowid").fetchall()
    assert staged == [(f"u{i:03d}", f"+861381234{i:04d}", None, "granted") for i in range(25)]
