"""Identical lines in one events file are separate events; importing a file again still adds nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

HEADER = "user_id,kind,at,amount,category"
ORDER = "u1,order,1997-03-02 00:00:00,29.33,cd"     # CDNOW has 255 such same-day, same-amount purchases
OTHER = "u2,order,1997-03-02 00:00:00,12.00,cd"


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def people(cli, tmp_path):
    assert cli("import", "users", str(write(tmp_path / "users.csv", ["external_id", "u1", "u2"]))).exit_code == 0


def imported(cli, path: Path) -> int:
    result = cli("import", "events", str(path), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["inserted"]


def stored(db) -> list[tuple]:
    return db.execute("SELECT user_id, kind, at, amount, category, fingerprint FROM events ORDER BY id").fetchall()


MODES = {
    "live": {},
    "live, across batches": {"BATCH": 2},
    "bulk": {"BATCH": 2, "BULK_MIN_ROWS": 1},
    "reader process": {"BATCH": 2, "PIPELINE_MIN_BYTES": 0},
}


@pytest.mark.parametrize("mode", MODES)
def test_identical_lines_are_separate_events_and_reimports_add_none(cli, db, tmp_path, people, monkeypatch, mode):
    from console.importing import event_fingerprint, pipeline
    from console.importing import events as module

    for name, value in MODES[mode].items():
        monkeypatch.setattr(pipeline if name == "PIPELINE_MIN_BYTES" else module, name, value)
    path = write(tmp_path / "orders.csv", [HEADER, ORDER, OTHER, ORDER, ORDER])
    assert imported(cli, path) == 4
    rows = stored(db)
    assert sorted(r[:5] for r in rows) == sorted([(1, "order", 857232000, 29.33, "cd")] * 3
                                                 + [(2, "order", 857232000, 12.0, "cd")])
    # Keyed by content and number among the identical lines: 0, 1, 2 (as the demo and any writer would hash them).
    assert sorted(r[5] for r in rows if r[0] == 1) == sorted(
        event_fingerprint(1, "order", 857232000, 29.33, "cd", occurrence=n) for n in range(3))

    assert imported(cli, path) == 0                       # the same file again
    assert imported(cli, write(tmp_path / "overlap.csv", [HEADER, OTHER, ORDER])) == 0  # a file that overlaps it
    assert stored(db) == rows
    assert imported(cli, write(tmp_path / "more.csv", [HEADER, *[ORDER] * 5])) == 2  # five of them now
    assert db.execute("SELECT count(*) FROM events WHERE user_id = 1").fetchone()[0] == 5


def test_events_stored_before_count_as_the_first_occurrences(cli, db, tmp_path, people):
    """An event stored once (by an earlier import) and found on three lines of a new file: two more."""
    assert imported(cli, write(tmp_path / "one.csv", [HEADER, ORDER])) == 1
    assert imported(cli, write(tmp_path / "three.csv", [HEADER, ORDER, ORDER, ORDER])) == 2
    assert imported(cli, tmp_path / "three.csv") == 0
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 3


def test_a_line_with_an_event_id_is_that_event(cli, db, tmp_path, people):
    """With an event id, the id tells events apart: the same id twice is one event listed twice."""
    path = write(tmp_path / "orders.csv", ["event_id," + HEADER, "o-1," + ORDER, "o-2," + ORDER, "o-1," + ORDER])
    assert imported(cli, path) == 2
    assert imported(cli, path) == 0
    assert [json.loads(a)["event_id"] for (a,) in db.execute("SELECT attributes FROM events ORDER BY id")] == [
        "o-1", "o-2"]


def test_identical_jsonl_lines_are_separate_events(cli, db, tmp_path, people):
    line = '{"user_id": "u1", "kind": "order", "at": "1997-03-02", "amount": 29.33, "meta": {"n": 1}}'
    path = tmp_path / "orders.jsonl"
    path.write_text(f"{line}\n{line}\n", encoding="utf-8")
    assert imported(cli, path) == 2
    assert imported(cli, path) == 0


def test_an_order_number_mapped_to_event_id_tells_orders_apart(cli, db, tmp_path, people):
    path = write(tmp_path / "orders.csv", ["order_no," + HEADER, "A1," + ORDER, "A2," + ORDER, "A1," + ORDER])
    result = cli("import", "events", str(path), "--map", "event_id=order_no", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 2


def test_every_purchase_of_the_cdnow_sample_is_stored(cli, db, tmp_path):
    """The CDNOW sample (a reference data set for these models) has 21 purchases that repeat another line
    exactly — same customer, day, quantity and amount. Each is a purchase: all 6,919 lines are stored."""
    lines = [line.split() for line in (Path(__file__).parent / "data" / "CDNOW_sample.txt").read_text().splitlines()
             if line.strip()]
    customers = sorted({c for c, *_ in lines})
    write(tmp_path / "customers.csv", ["external_id", *customers])
    orders = write(tmp_path / "orders.csv", ["user_id,at,quantity,amount"] + [
        f"{c},{d[:4]}-{d[4:6]}-{d[6:]},{q},{a}" for c, _, d, q, a in lines])
    assert cli("import", "users", str(tmp_path / "customers.csv")).exit_code == 0
    result = cli("import", "events", str(orders), "--kind", "order", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == len(lines) == 6919
    again = cli("import", "events", str(orders), "--kind", "order", "--json")
    assert json.loads(again.stdout)["inserted"] == 0
    total = db.execute("SELECT round(sum(amount), 2) FROM events").fetchone()[0]
    assert total == round(sum(float(a) for *_, a in lines), 2)
