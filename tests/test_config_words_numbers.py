"""The numbers of [outcomes] and [inbound] in winback.toml are checked when the file is read: a value their readers
cannot convert (alpha = "5%", port = "eighty") is said with the file, the line and the key, by any command —
it was a ValueError traceback from the one command that read it (campaign outcomes, serve)."""

from __future__ import annotations

import pytest

from tests.config_words_support import init_toml, one_error


@pytest.mark.parametrize(("table", "setting", "said"), [
    ("outcomes", 'alpha = "5%"', "[outcomes] alpha: '5%' is not a number"),
    ("inbound", 'port = "eighty"', "[inbound] port: 'eighty' is not a whole number"),
])
def test_a_number_that_is_not_one_names_the_file_line_and_key(cli, table, setting, said):
    toml = init_toml()
    with toml.open("a", encoding="utf-8") as file:
        file.write(f"\n[{table}]\n{setting}\n")
    line = len(toml.read_text(encoding="utf-8").splitlines())
    assert one_error(cli("quiet-hours", "show")) == f"error: winback.toml line {line}: {said}"


def test_a_receipt_table_written_as_a_value_names_the_file_line_and_key(cli):
    toml = init_toml()
    with toml.open("a", encoding="utf-8") as file:
        file.write('\n[inbound.receipts]\nsms = "delivered"\n')
    line = len(toml.read_text(encoding="utf-8").splitlines())
    said = one_error(cli("quiet-hours", "show"))
    assert said.startswith(f"error: winback.toml line {line}: [inbound.receipts] sms: 'delivered' must be a table"), said
