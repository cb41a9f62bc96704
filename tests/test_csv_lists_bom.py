"""Call and gift lists (the `csv` transport) open in Excel on a Chinese Windows with their Chinese text intact: a
new file starts with a UTF-8 BOM (without one, Excel reads it as GBK: mojibake), as the segments export and the
import's rejects file do. A later run appends to the file in the encoding it already has: after a BOM plain
UTF-8 (never a second BOM in the middle); a file written before lists had a BOM stays without one."""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

from console.channels.base import Message
from console.channels.csvfile import CsvChannel

BOM = codecs.BOM_UTF8


def _batch(first: int, n: int) -> list[Message]:
    return [Message(i, i, f"+86138000000{i:02d}", f"您好 用户{i}，回来看看", "回归", f"<m{i}>",
                    fields={"user.name": f"用户{i}"}) for i in range(first, first + n)]


def _send(path: Path, batch: list[Message]) -> None:
    channel = CsvChannel("call", {"path": str(path)})   # a new channel per run, as every launch makes its own
    channel.send(batch)
    channel.close()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_new_call_list_starts_with_a_bom_and_a_second_run_appends_without_another(tmp_path):
    path = tmp_path / "call-list.csv"
    _send(path, _batch(1, 2))
    raw = path.read_bytes()
    assert raw.startswith(BOM)
    rows = _rows(path)
    assert [r["user.name"] for r in rows] == ["用户1", "用户2"]
    assert rows[0]["text"] == "您好 用户1，回来看看" and rows[0]["message_id"] == "<m1>"

    _send(path, _batch(3, 2))
    raw = path.read_bytes()
    assert raw.startswith(BOM) and raw.count(BOM) == 1
    rows = _rows(path)
    # the header was read back without its BOM: the appended rows fill the message_id column too
    assert [(r["message_id"], r["user.name"]) for r in rows] == [
        ("<m1>", "用户1"), ("<m2>", "用户2"), ("<m3>", "用户3"), ("<m4>", "用户4")]


def test_a_list_written_without_a_bom_is_appended_to_as_it_is(tmp_path):
    path = tmp_path / "gift-list.csv"
    path.write_bytes("message_id,campaign,user_id,to,user.name\r\n<m0>,回归,0,+8613800000000,老客户\r\n"
                     .encode())
    _send(path, _batch(1, 1))
    raw = path.read_bytes()
    assert BOM not in raw
    assert raw.decode("utf-8").splitlines() == [
        "message_id,campaign,user_id,to,user.name", "<m0>,回归,0,+8613800000000,老客户",
        "<m1>,回归,1,+8613800000001,用户1"]


def test_an_empty_list_file_is_written_as_a_new_one(tmp_path):
    path = tmp_path / "call-list.csv"
    path.touch()   # made ready by hand, or left empty by a full disk
    _send(path, _batch(1, 1))
    assert path.read_bytes().startswith(BOM)
    assert [r["message_id"] for r in _rows(path)] == ["<m1>"]
