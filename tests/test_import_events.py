"""`winback import events`: times and zones, unknown users, dedup on re-import, --kind, rejects, bulk mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

HEADER = "user_id,kind,at,amount,category,object,source,coupon_code,campaign"
GOOD = [
    "u1,order,2026-11-25 09:00:00,128.50,shoes,sku-1,app,C10,w48",
    "u1,visit,2026/11/25 9:05,,,,web,,",
    "u2,Visit,2026年11月25日 9:00,,,,,,",
    "u2,order,2026-11-25T01:00:00Z,\"¥1,299.00\",bags,sku-2,app,,",
]


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def said(result) -> str:
    return " ".join(result.output.split())


def state(db) -> list:
    return [db.execute("SELECT * FROM events ORDER BY id").fetchall(), db.execute("SELECT count(*) FROM audit").fetchone()[0]]


@pytest.fixture
def people(cli, tmp_path):
    path = write(tmp_path / "users.csv", ["external_id,name", "u1,One", "u2,Two"])
    assert cli("import", "users", str(path)).exit_code == 0


def events(db) -> list[tuple]:
    return db.execute(
        "SELECT u.external_id, e.kind, e.at, e.amount, e.category, e.object, e.source, e.coupon_code, e.attributes"
        " FROM events e JOIN users u ON u.id = e.user_id ORDER BY e.id").fetchall()


def test_times_are_read_in_the_workspace_zone(cli, db, tmp_path, people):
    result = cli("import", "events", str(write(tmp_path / "events.csv", [HEADER, *GOOD])))
    assert result.exit_code == 0, result.output
    nine = 1795568400  # 2026-11-25 09:00 Asia/Shanghai = 01:00 UTC
    assert events(db) == [
        ("u1", "order", nine, 128.5, "shoes", "sku-1", "app", "C10", '{"campaign":"w48"}'),
        ("u1", "visit", nine + 300, None, None, None, "web", None, None),
        ("u2", "visit", nine, None, None, None, None, None, None),
        ("u2", "order", nine, 1299.0, "bags", "sku-2", "app", None, None),
    ]


def test_a_large_files_empty_cells_are_stored_as_null_too(cli, db, tmp_path, people, monkeypatch):
    """A large file's rows are staged with '' for empty cells and sorted before the swap: NULL all the same."""
    from console.importing import events as module

    monkeypatch.setattr(module, "BULK_MIN_ROWS", 1)
    monkeypatch.setattr(module, "BATCH", 2)
    result = cli("import", "events", str(write(tmp_path / "events.csv", [HEADER, *GOOD])))
    assert result.exit_code == 0, result.output
    nine = 1795568400
    assert sorted(events(db), key=repr) == sorted([
        ("u1", "order", nine, 128.5, "shoes", "sku-1", "app", "C10", '{"campaign":"w48"}'),
        ("u1", "visit", nine + 300, None, None, None, "web", None, None),
        ("u2", "visit", nine, None, None, None, None, None, None),
        ("u2", "order", nine, 1299.0, "bags", "sku-2", "app", None, None),
    ], key=repr)


def test_workspace_zone_comes_from_the_config(cli, db, tmp_path, people):
    config = tmp_path / "winback.toml"
    config.write_text('[workspace]\ntimezone = "Europe/London"\n', encoding="utf-8")
    path = write(tmp_path / "events.csv", ["user_id,kind,at", "u1,login,2026-07-01 10:00"])
    assert cli("--config", str(config), "import", "events", str(path)).exit_code == 0
    assert db.execute("SELECT at FROM events").fetchone()[0] == 1782896400  # 09:00 UTC (BST)


def test_reimport_adds_nothing(cli, db, tmp_path, people):
    path = write(tmp_path / "events.csv", [HEADER, *GOOD, GOOD[0]])  # two identical lines: two orders
    first = cli("import", "events", str(path), "--json")
    assert json.loads(first.stdout)["inserted"] == 5
    before = state(db)[0]
    again = cli("import", "events", str(path), "--json")
    assert again.exit_code == 0
    assert (json.loads(again.stdout)["inserted"], json.loads(again.stdout)["unchanged"]) == (0, 5)
    assert state(db)[0] == before


def test_bulk_mode_rebuilds_indexes_and_deduplicates(cli, db, tmp_path, people, monkeypatch):
    """Large files drop and rebuild the events indexes; re-imports must still add nothing."""
    from console.importing import events as module

    monkeypatch.setattr(module, "BULK_MIN_ROWS", 1)
    monkeypatch.setattr(module, "BATCH", 2)
    path = write(tmp_path / "events.csv", [HEADER, *GOOD, GOOD[1]])  # GOOD[1] twice: two visits
    indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'events' AND type = 'index'"
                         " ORDER BY name").fetchall()
    assert json.loads(cli("import", "events", str(path), "--json").stdout)["inserted"] == 5
    assert json.loads(cli("import", "events", str(path), "--json").stdout)["inserted"] == 0  # indexes kept live
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 5
    # New events first (bulk mode), then ones already stored: removed when the unique index is rebuilt.
    new = ["u2,visit,2026-11-26 10:00:00,,,,,,", "u1,visit,2026-11-26 11:00:00,,,,,,"]
    path = write(tmp_path / "more.csv", [HEADER, *new, *GOOD, new[0]])
    assert json.loads(cli("import", "events", str(path), "--json").stdout)["inserted"] == 3
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 8
    assert db.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'events' AND type = 'index'"
                      " ORDER BY name").fetchall() == indexes


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ghost,order,2026-11-25 09:00,1,,,,,", "events.csv:3: user_id: no user with external id 'ghost'"),
        ("u1,order,25/11/2026 09:00,1,,,,,", "events.csv:3: at: '25/11/2026 09:00' is ambiguous"),
        ("u1,order,2026-02-30 09:00,1,,,,,", "at: '2026-02-30 09:00' is not a time"),
        ("u1,order,,1,,,,,", "at: empty"),
        ("u1,,2026-11-25 09:00,1,,,,,", "kind: empty"),
        ("u1,order,2026-11-25 09:00,twelve,,,,,", "amount: 'twelve' is not an amount"),
        ("u1,order,2026-11-25 09:00,nan,,,,,", "amount: 'nan' is not an amount"),
    ],
)
def test_a_bad_row_refuses_the_whole_file(cli, db, tmp_path, people, line, expected):
    before = state(db)
    result = cli("import", "events", str(write(tmp_path / "events.csv", [HEADER, GOOD[0], line])))
    assert result.exit_code == 2
    assert expected in said(result)
    assert state(db) == before


def test_missing_required_column_and_empty_file(cli, db, tmp_path, people):
    before = state(db)
    result = cli("import", "events", str(write(tmp_path / "events.csv", ["user_id,at", "u1,2026-11-25"])))
    assert result.exit_code == 2 and "missing required column 'kind'" in said(result)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = cli("import", "events", str(empty))
    assert result.exit_code == 2 and "the file is empty" in said(result)
    assert state(db) == before


def test_kind_for_the_whole_file_and_mapping(cli, db, tmp_path, people):
    path = write(tmp_path / "orders.csv", ["member;paid_at;total", "u1;2026-11-25 09:00;10", "u2;2026-11-25 10:00;20"])
    result = cli("import", "events", str(path), "--kind", "Order", "--map", "user_id=member", "--map", "at=paid_at",
                 "--map", "amount=total")
    assert result.exit_code == 0, result.output
    assert [(e[0], e[1], e[3]) for e in events(db)] == [("u1", "order", 10.0), ("u2", "order", 20.0)]


def test_jsonl_events_and_a_bad_line(cli, db, tmp_path, people):
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"user_id": "u1", "kind": "click", "at": "2026-11-25T09:00:00+08:00", "amount": 3, "meta": {"k": 1}}\n'
        '{"user_id": "u2", "kind": "login", "at": 1795568400}\n',
        encoding="utf-8",
    )
    assert cli("import", "events", str(path)).exit_code == 0
    assert events(db) == [
        ("u1", "click", 1795568400, 3.0, None, None, None, None, '{"meta":{"k":1}}'),
        ("u2", "login", 1795568400, None, None, None, None, None, None),
    ]
    before = state(db)
    path.write_text('{"user_id": "u1", "kind": "click", "at": "2026-11-26"}\nnot json\n', encoding="utf-8")
    result = cli("import", "events", str(path))
    assert result.exit_code == 2 and "events.jsonl:2: not valid JSON" in said(result)
    assert state(db) == before


def test_skip_invalid_imports_the_rest_and_writes_rejects(cli, db, tmp_path, people):
    path = write(tmp_path / "events.csv", [HEADER, GOOD[0], "ghost,visit,2026-11-25 09:00,,,,,,", GOOD[1]])
    result = cli("import", "events", str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert len(events(db)) == 2
    rejects = (tmp_path / "events.csv.rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rejects == [
        "line,error," + HEADER,
        "3,user_id: no user with external id 'ghost'; import users first,ghost,visit,2026-11-25 09:00,,,,,,",
    ]


def test_skip_invalid_jsonl_rejects(cli, db, tmp_path, people):
    path = tmp_path / "events.jsonl"
    path.write_text('{"user_id": "u1", "kind": "visit", "at": "2026-11-25"}\n[1, 2]\n', encoding="utf-8")
    assert cli("import", "events", str(path), "--skip-invalid").exit_code == 0
    reject = json.loads((tmp_path / "events.jsonl.rejects.jsonl").read_text(encoding="utf-8"))
    assert reject == {"line": 2, "error": "each line must be a JSON object {...}", "record": [1, 2]}


def test_dry_run_writes_nothing(cli, db, tmp_path, people):
    before = state(db)
    result = cli("import", "events", str(write(tmp_path / "events.csv", [HEADER, *GOOD])), "--dry-run")
    assert result.exit_code == 0 and "4 of 4 rows valid" in said(result)
    assert state(db) == before


def test_gbk_events(cli, db, tmp_path, people):
    path = tmp_path / "events.csv"
    path.write_bytes("user_id,kind,at,category\r\nu1,order,2026/11/25 9:00,女鞋\r\n".encode("gbk"))
    assert cli("import", "events", str(path)).exit_code == 0
    assert events(db)[0][4] == "女鞋"


def test_fingerprint_matches_the_demo_builder(tmp_path, monkeypatch):
    """The demo's stored events hash as an import of the same events would, so re-importing them adds nothing."""
    from console.importing import event_fingerprint
    from console.workspace import Workspace
    from fixtures.demo import build_demo

    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T09:00:00+08:00")
    ws = Workspace.load(db=tmp_path / "demo.db")
    build_demo(ws, users=30, seed=3)
    rows = ws.open().execute("SELECT user_id, kind, at, amount, category, object, source, coupon_code, fingerprint"
                             " FROM events ORDER BY id").fetchall()
    assert rows
    seen: dict[tuple, int] = {}
    for r in rows:  # identical events are numbered, as identical lines of an import are
        seen[r[:8]] = seen.get(r[:8], -1) + 1
        assert event_fingerprint(*r[:8], occurrence=seen[r[:8]]) == r[8]


def test_large_files_are_checked_in_a_second_process(cli, db, tmp_path, people, monkeypatch):
    """The two-process path gives the same results, errors and rollback as the one-process path."""
    from console.importing import events as module
    from console.importing import pipeline

    path = write(tmp_path / "events.csv", [HEADER, *GOOD[:2]])
    assert json.loads(cli("import", "events", str(path), "--json").stdout)["inserted"] == 2  # in one process
    monkeypatch.setattr(pipeline, "PIPELINE_MIN_BYTES", 0)
    monkeypatch.setattr(module, "BATCH", 2)
    path = write(tmp_path / "events.csv", [HEADER, *GOOD])
    # The same events hashed in the other process are recognised: only the two new ones are added.
    assert json.loads(cli("import", "events", str(path), "--json").stdout)["inserted"] == 2
    before = state(db)
    path = write(tmp_path / "events.csv", [HEADER, *GOOD, "ghost,visit,2026-11-25,,,,,,", GOOD[0]])
    result = cli("import", "events", str(path))
    assert result.exit_code == 2 and "events.csv:6: user_id: no user with external id 'ghost'" in said(result)
    assert state(db) == before
    path.write_bytes(HEADER.encode() + b"\nu1,visit,2026-11-25,\xff\xfe,,,,,\n")
    result = cli("import", "events", str(path), "--encoding", "utf-8")
    assert result.exit_code == 2 and "not valid utf-8 text" in said(result)
    assert state(db) == before


@pytest.mark.parametrize("zone", ["Europe/London", "Asia/Shanghai", "Australia/Lord_Howe"])
def test_cached_hours_agree_with_zoneinfo_across_clock_changes(zone):
    """The hour cache behind fast imports must give what zoneinfo gives, including around DST changes."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from console.importing.values import MINUTES, MISSING, TimeParser

    parse = TimeParser(zone)
    start = datetime(2026, 3, 28, 0, 0)
    for step in range(0, 9 * 24 * 60, 7):
        wall = start + timedelta(minutes=step)
        for day_offset in (0, 189, 211):  # London: Mar 29, Oct 25; Lord Howe: Apr 5, Oct 4
            local = wall + timedelta(days=day_offset)
            text = local.strftime("%Y-%m-%d %H:%M:%S")
            expected = int(local.replace(tzinfo=ZoneInfo(zone)).timestamp())
            assert parse(text) == expected, text
            assert parse(text) == expected, text  # second sighting: from the cache
            cached = parse.hours.get(text[:14], MISSING) + MINUTES.get(text[14:], MISSING)
            assert cached < 0 or cached == expected, text


@pytest.mark.parametrize("zone", ["Europe/London", "Australia/Lord_Howe"])
def test_hours_learnt_in_bulk_agree_with_zoneinfo(zone):
    """learn_hours (used to look up a whole column of times at once) skips the hours a clock change splits."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from console.importing.values import MINUTES, MISSING, TimeParser

    parse = TimeParser(zone)
    walls = [datetime(2026, 3, 28) + timedelta(days=d, minutes=m) for d in (0, 189, 211) for m in range(0, 9 * 1440, 7)]
    texts = [w.strftime("%Y-%m-%d %H:%M:%S") for w in walls]
    parse.learn_hours({t[:14] for t in texts} | {"2026-13-01 00:", "junk"})
    assert parse.hours
    for wall, text in zip(walls, texts, strict=True):
        cached = parse.hours.get(text[:14], MISSING) + MINUTES.get(text[14:], MISSING)
        assert cached < 0 or cached == int(wall.replace(tzinfo=ZoneInfo(zone)).timestamp()), text


def test_column_wise_check_hashes_as_event_fingerprint():
    """The bulk path (columns, C-level maps) gives each stored event the fingerprint event_fingerprint gives."""
    from console.importing.event_checks import check_batch
    from console.importing.events import event_fingerprint
    from console.importing.reading import Batch
    from console.importing.user_ids import UserIds
    from console.importing.values import TimeParser

    values = [
        ("u1", "order", "2026-11-25 09:00:00", "128.50", "shoes", "sku-1", "app", "C10"),
        ("u1", "visit", "2026-11-25 09:00:00", "", "", "", " web ", ""),
        (" u2", " Visit", "2026年11月25日 9:00", "¥1,299.00", "bags", "", "", ""),
        ("u2", "visit", "2026-11-25 10:00:00", "0", "", "", "", ""),
        ("ghost", "visit", "2026-11-25 10:00:00", "", "", "", "", ""),  # invalid: left out
    ]
    batch = Batch(values=values, extras=[{"campaign": "w48"}, None, None, None, None], raws=values, lines=range(5))
    users = UserIds({"u1": 1, "u2": 2})
    columns, valid = check_batch(batch, None, users, TimeParser("Asia/Shanghai"))
    assert valid == 4
    rows = list(columns.rows())
    expected = [
        (1, "order", 1795568400, 128.5, "shoes", "sku-1", "app", "C10", '{"campaign":"w48"}'),
        (1, "visit", 1795568400, None, None, None, "web", None, None),
        (2, "visit", 1795568400, 1299.0, "bags", None, None, None, None),
        (2, "visit", 1795572000, 0.0, None, None, None, None, None),
    ]
    for row, want in zip(rows, expected, strict=True):
        stored = tuple(None if v == "" else v for v in row[:9])  # '' is stored as NULL (nullif)
        assert stored == want
        assert row[9] == event_fingerprint(*want)


def test_spreadsheet_dates_are_refused_with_their_likely_cause(cli, db, people, tmp_path):
    path = write(tmp_path / "orders.csv", ["user_id,at", "u1,46000", "u1,25/11/2026 09:00", "u1,2026-11-25"])
    before = state(db)
    result = cli("import", "events", str(path), "--kind", "order")
    assert result.exit_code == 2
    assert "orders.csv:2: at: '46000' looks like an Excel date serial number" in said(result)
    assert "orders.csv:3: at: '25/11/2026 09:00' is ambiguous (day/month or month/day?)" in said(result)
    assert state(db) == before


def test_a_cut_jsonl_line_is_reported_at_its_own_column(cli, db, people, tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"user_id": "u1", "kind": "visit", "at": "2026-11-25"}\n'
                    '{"user_id": "u1", "kind": "visit", "at": "2026-11-25",\n[1, 2]\n', encoding="utf-8")
    before = state(db)
    result = cli("import", "events", str(path))
    assert result.exit_code == 2
    assert "log.jsonl:2: not valid JSON (Expecting property name enclosed in double quotes at column 55)" in said(result)
    assert "log.jsonl:3: each line must be a JSON object" in said(result)
    assert state(db) == before


def test_json_output_of_a_refused_file_lists_its_errors(cli, db, people, tmp_path):
    import json

    path = write(tmp_path / "orders.csv", ["user_id,at", "u1,2026-11-25", "nobody,2026-11-25"])
    before = state(db)
    result = cli("import", "events", str(path), "--kind", "order", "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)  # a script gets the errors as data, not only a message on stderr
    assert report["imported"] is False and report["invalid"] == 1 and report["inserted"] == 0
    assert report["errors"] == ["orders.csv:3: user_id: no user with external id 'nobody'; import users first"]
    assert state(db) == before
    ok = cli("import", "events", str(write(tmp_path / "ok.csv", ["user_id,at", "u1,2026-11-25"])), "--kind", "order", "--json")
    assert json.loads(ok.stdout)["imported"] is True


@pytest.mark.slow
def test_ctrl_c_says_nothing_was_imported(cli, db, people, tmp_path):
    """A real `winback import events` of a large file, interrupted (SIGINT to its process group, as Ctrl-C in a
    terminal) while it is reading the file and staging its rows in the side database (held there by the test-only
    pause point 'load', so that a fast machine cannot finish first): nothing is written, it says so, and the side
    file is removed."""
    import os
    import signal
    import subprocess
    import sys
    import time

    assert cli("import", "events", str(write(tmp_path / "first.csv", ["user_id,at", "u1,2026-11-20"])),
               "--kind", "order").exit_code == 0
    before = state(db) + [db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()]
    # ~12 MB: seconds of work on this machine, so the interrupt lands mid-import, not after the commit.
    big = write(tmp_path / "orders.csv", ["user_id,at,amount"] + [
        f"u{1 + i % 2},2026-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{i // 60 % 60:02d},{i % 997}"
        for i in range(400_000)])
    winback = Path(sys.executable).parent / "winback"
    marker = tmp_path / "paused"
    proc = subprocess.Popen([str(winback), "--db", str(tmp_path / "winback.db"), "import", "events", str(big),
                             "--kind", "order"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            # Ctrl-C reaches a terminal's foreground job with SIGINT at its default; a test run
                            # started in the background of a non-interactive shell (nohup …&, cron) ignores SIGINT,
                            # and an ignored signal stays ignored across exec: the import would never hear it.
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            env={**os.environ, "WINBACK_TEST_PAUSE_AT": "load", "WINBACK_TEST_PAUSE_FILE": str(marker)})
    try:
        deadline = time.monotonic() + 120   # only against a hang; nothing here is timed
        while not marker.exists():
            if proc.poll() is not None:
                raise AssertionError(f"the import ended before it could be interrupted: {proc.communicate()}")
            if time.monotonic() > deadline:
                raise AssertionError("never happened: the importer staging rows while reading the file")
            time.sleep(0.005)
        assert list(tmp_path.glob("winback.db.staging-*.db"))  # mid-import: rows staged beside the database
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "interrupted: nothing was imported" in " ".join(err.split()) and "Traceback" not in err
    after = state(db) + [db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()]
    assert after == before
    assert not list(tmp_path.glob("winback.db.staging-*"))


def test_a_decimal_comma_is_refused_not_read_as_thousands(cli, db, people, tmp_path):
    # European Excel writes 1,5 for 1.5: dropping the comma would store 15 (and 1.299,00 as 1.299).
    path = write(tmp_path / "orders.csv", ["user_id;at;amount", "u1;2026-11-25;1,5", "u1;2026-11-26;1.299,00",
                                           'u1;2026-11-27;"1,299.00"'])
    before = state(db)
    result = cli("import", "events", str(path), "--kind", "order")
    assert result.exit_code == 2
    assert "orders.csv:2: amount: '1,5' has a comma that is not a thousands separator" in said(result)
    assert "orders.csv:3: amount: '1.299,00'" in said(result) and "orders.csv:4" not in said(result)
    assert state(db) == before


def test_a_clean_skip_invalid_import_removes_the_previous_rejects_file(cli, db, people, tmp_path):
    path = write(tmp_path / "visits.csv", ["user_id,at", "u1,2026-11-25", "nobody,2026-11-25"])
    assert cli("import", "events", str(path), "--kind", "visit", "--skip-invalid").exit_code == 0
    rejects = tmp_path / "visits.csv.rejects.csv"
    assert rejects.exists()
    write(path, ["user_id,at", "u1,2026-11-25", "u2,2026-11-25"])  # fixed
    assert cli("import", "events", str(path), "--kind", "visit", "--skip-invalid", "--dry-run").exit_code == 0
    assert rejects.exists()  # a dry run changes nothing, files included
    assert cli("import", "events", str(path), "--kind", "visit", "--skip-invalid").exit_code == 0
    assert not rejects.exists()  # it listed rows that are now imported
