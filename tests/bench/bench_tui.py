"""Console responsiveness: first paint of the overview on a demo workspace, and key-press-to-screen-update
latency while a large send runs in another process.

    python tests/bench/bench.py tui --users 20000              # first paint only
    python tests/bench/bench.py tui --users 20000 --send 100000 # plus key latency during a 100,000 send
    python tests/bench/bench.py tui --users 0 --search 1000000   # only `/` over a 1,000,000-user segment

`--search N`: the `/` search of a segment's members (console/search.py) over N generated users (bench_segments'
generator: Chinese regions, phones, emails), matched in plain SQL against the same search with the Python
functions per row it replaced (the baseline, measured in the same run).

Baselines measured in the same run: the overview's data read alone (the service call, no UI), and the same
key presses with no send running.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FROZEN = "2026-11-25T09:00:00+08:00"


def add_arguments(parser) -> None:
    parser.add_argument("--users", type=int, default=20_000, help="demo users for the first-paint figure")
    parser.add_argument("--send", type=int, default=0,
                        help="also measure key latency while a dry-run send to about this many recipients runs")
    parser.add_argument("--presses", type=int, default=40,
                        help="key presses with nothing running (during the send: as many as it lasts)")
    parser.add_argument("--dir", type=Path, default=None, help="keep the workspaces here (default: a temp dir)")
    parser.add_argument("--search", type=int, default=0,
                        help="also time `/` over a segment of this many generated users: plain SQL vs Python per row")


def _workspace(folder: Path, users: int):
    from console.workspace import Workspace
    from fixtures.demo import build_demo

    ws = Workspace.load(db=folder / f"demo-{users}.db")
    if not ws.db_path.exists():
        t0 = time.perf_counter()
        build_demo(ws, users=users, seed=7)
        print(f"built a {users:,}-user demo in {time.perf_counter() - t0:.1f} s ({ws.db_path})")
    return ws


async def _first_paint(ws) -> tuple[float, float]:
    """Seconds from starting the app to the overview showing real data, and the data read alone."""
    from screens import sources
    from screens.app import WinbackApp

    db = ws.open()
    t0 = time.perf_counter()
    sources.overview(db, ws.config)
    data_only = time.perf_counter() - t0
    db.close()

    seen = asyncio.Event()
    arrived: set[str] = set()

    def hook(message) -> None:
        # The overview is painted with real data once both its halves (profiles, activity) have arrived.
        if type(message).__name__ == "Fetched" and getattr(message, "key", "") in ("profiles", "activity"):
            arrived.add(message.key)
            if len(arrived) == 2:
                seen.set()

    t0 = time.perf_counter()
    app = WinbackApp(ws, cursor_blink=False)
    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        await asyncio.wait_for(seen.wait(), 30)
        await pilot.pause()  # the frame with the data in it
        painted = time.perf_counter() - t0
    return painted, data_only


KEY_MODES = {"a": "audit", "d": "deliveries", "o": "overview", "c": "campaigns", "s": "segments", "p": "policy"}


async def _press_and_wait_for_paint(app, key: str) -> float:
    """Seconds from a key arriving (as the terminal driver delivers it) to the new screen having been painted."""
    from textual import events

    painted = asyncio.Event()
    t0 = time.perf_counter()
    app._driver.send_message(events.Key(key, key))
    while app.current_mode != KEY_MODES[key]:
        await asyncio.sleep(0)
    app.screen.call_after_refresh(painted.set)
    await painted.wait()
    return time.perf_counter() - t0


async def _key_latency(ws, presses: int, send: str | None = None) -> tuple[list[float], int]:
    """Key-press-to-paint latencies while switching screens (each screen visited once first, as a warm-up).

    Without `send`: `presses` presses. With it: the app follows that campaign on Deliveries (polling its tally
    every second), the send starts in another process, and keys are pressed until it ends; also returns the
    recipients it recorded.
    """
    from console.campaigns import tallies
    from screens.app import WinbackApp

    app = WinbackApp(ws, cursor_blink=False)
    samples: list[float] = []
    keys = ["a", "d", "o", "d", "c", "d", "s", "d", "p", "d"]
    async with app.run_test(size=(120, 40)) as pilot:
        if send:
            app.followed_campaign = send
        for key in keys:  # warm-up: every screen composed once
            await pilot.press(key)
        await pilot.pause(0.5)
        proc = _start_send(ws, send) if send else None
        try:
            if proc is not None:
                await asyncio.sleep(0.5)  # under way: the audience is being frozen into the ledger
            i = 0
            while (proc is not None and proc.poll() is None) or (proc is None and i < presses):
                latency = await _press_and_wait_for_paint(app, keys[i % len(keys)])
                if proc is None or proc.poll() is None:
                    samples.append(latency)
                i += 1
                await asyncio.sleep(0.1)  # live polling runs between presses, as it would for a person
        finally:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)
    recorded = 0
    if send:
        db = ws.open()
        recorded = tallies.tally(db, send)["recipients"]
        db.close()
    return samples, recorded


def _summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"median {1000 * statistics.median(ordered):.1f} ms · p95 {1000 * p95:.1f} ms · "
            f"max {1000 * ordered[-1]:.1f} ms")


def _prepare_send(ws) -> str:
    """A dry-run SMS campaign to every demo user (quiet hours off, no holdout), not yet launched."""
    from console.campaigns import model
    from console.policy import quiet_hours

    db = ws.open()
    quiet_hours.set_quiet_hours(db, "off")
    name = f"bench-{len(model.list_campaigns(db)) + 1}"
    model.create(db, name, segment="all", channel="sms", template="nostalgic-sms-zh", holdout=0)
    db.close()
    return name


def _start_send(ws, name: str) -> subprocess.Popen:
    """`winback campaign launch NAME` in another process, as a cron job or a second shell would run it."""
    winback = Path(sys.executable).with_name("winback")
    return subprocess.Popen([str(winback), "--db", str(ws.db_path), "campaign", "launch", name],
                            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(args) -> int:
    os.environ["WINBACK_NOW"] = os.environ.get("WINBACK_NOW", FROZEN)
    os.environ.setdefault("WINBACK_OPERATOR", "bench")
    folder = args.dir or Path(tempfile.mkdtemp(prefix="winback-bench-tui-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.search:
        _search(folder, args.search)
    if not args.users:
        return 0
    ws = _workspace(folder, args.users)
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} CPUs — figures move with it on a shared machine")
    painted, data_only = asyncio.run(_first_paint(ws))
    print(f"first paint of the overview, {args.users:,} users: {painted * 1000:.0f} ms (target ≤ 1000 ms); "
          f"the same data read without the UI: {data_only * 1000:.0f} ms "
          f"(first paint = ×{painted / max(data_only, 1e-9):.1f} the read)")
    if args.send:
        big = _workspace(folder, args.send)
        idle, _ = asyncio.run(_key_latency(big, args.presses))
        print(f"key press → screen updated, nothing running ({len(idle)} presses): {_summary(idle)}")
        name = _prepare_send(big)
        t0 = time.perf_counter()
        busy, recorded = asyncio.run(_key_latency(big, args.presses, send=name))
        print(f"while `winback campaign launch {name}` sent {recorded:,} recipients in another process "
              f"(≈{time.perf_counter() - t0:.0f} s): {len(busy)} presses, {_summary(busy)} (target ≤ 100 ms)")
        if busy:
            print(f"ratio busy/idle (median): ×{statistics.median(busy) / statistics.median(idle):.2f}")
    return 0


# What an operator types after `/` on a segment's members: a phone's last four digits, a region, a dormancy state,
# part of an email, a masked name with its asterisks, a word found nowhere.
NEEDLES = ("5678", "华东", "never_active", "@example", "u**", "nobody-at-all")


def _search(folder: Path, users: int) -> None:
    """`/` over every member of the segment `all`: the count the filter bar shows and the first page, each in plain
    SQL and with the Python functions called per row (console.search before it wrote the masks in SQL)."""
    from unittest import mock

    from bench_segments import generate

    from console import search
    from console.segments import member_count, members
    from storage.db import open_database

    path = folder / f"search-{users}.db"
    db = open_database(path)
    if not db.execute("SELECT COUNT(*) FROM users").fetchone()[0]:
        t0 = time.perf_counter()
        generate(db, users, 1)
        print(f"generated {users:,} users in {time.perf_counter() - t0:.1f} s ({path})")
    print(f"`/` on the members of `all` ({users:,} users): the count (every row) and the first page of 50")
    ratios = []
    for needle in NEEDLES:
        sql_s, found = _best(lambda n=needle: member_count(db, "all", search=n))
        with mock.patch.object(search, "in_plain_sql", lambda _needle: False):   # the Python functions, per row
            py_s, again = _best(lambda n=needle: member_count(db, "all", search=n))
        assert found == again, (needle, found, again)   # the same matches either way
        page_s, _ = _best(lambda n=needle: members(db, "all", page=1, page_size=50, search=n))
        ratios.append(py_s / max(sql_s, 1e-9))
        print(f"  {needle!r:16} {found:>9,} match · count: SQL {sql_s * 1000:7.0f} ms, Python per row "
              f"{py_s * 1000:7.0f} ms (×{ratios[-1]:.1f}) · first page (SQL) {page_s * 1000:5.0f} ms")
    print(f"Python per row / plain SQL, median over {len(NEEDLES)} needles: ×{statistics.median(ratios):.1f}")
    db.close()


def _best(call) -> tuple[float, int]:
    """The fastest of three runs (the machine is shared: the least disturbed run) and what the call returned."""
    times, result = [], None
    for _ in range(3):
        t0 = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t0)
    return min(times), result
