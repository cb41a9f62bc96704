"""Console responsiveness: first paint of the overview on a demo workspace, and key-press-to-screen-update
latency while a large send runs in another process.

    python tests/bench/bench.py tui --users 20000              # first paint only
    python tests/bench/bench.py tui --users 20000 --send 100000 # plus key latency during a 100,000 send

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
    parser.add_argument("--presses", type=int, default=40, help="key presses per latency measurement")
    parser.add_argument("--dir", type=Path, default=None, help="keep the workspaces here (default: a temp dir)")


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

    def hook(message) -> None:
        if type(message).__name__ == "Fetched" and getattr(message, "key", "") == "overview":
            seen.set()

    t0 = time.perf_counter()
    app = WinbackApp(ws, cursor_blink=False)
    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        await asyncio.wait_for(seen.wait(), 30)
        await pilot.pause()  # the frame with the data in it
        painted = time.perf_counter() - t0
    return painted, data_only


async def _key_latency(ws, presses: int) -> list[float]:
    """Seconds from a key press to the screen having handled it and refreshed, over `presses` presses."""
    from screens.app import WinbackApp

    app = WinbackApp(ws, cursor_blink=False)
    samples: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d")
        await pilot.pause(0.5)
        keys = ["a", "d", "o", "d"]
        for i in range(presses):
            t0 = time.perf_counter()
            await pilot.press(keys[i % len(keys)])
            await pilot.pause()
            samples.append(time.perf_counter() - t0)
            await asyncio.sleep(0.05)  # let live polling run between presses, as a person would
    return samples


def _summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"median {1000 * statistics.median(ordered):.1f} ms · p95 {1000 * p95:.1f} ms · "
            f"max {1000 * ordered[-1]:.1f} ms")


def _start_send(ws, recipients: int) -> tuple[subprocess.Popen, str]:
    from tests.bench.tui_send import prepare_send

    name = prepare_send(ws, recipients)
    env = dict(os.environ, WINBACK_OPERATOR="bench")
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--db", str(ws.db_path), "campaign", "launch", name],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return proc, name


def run(args) -> int:
    os.environ["WINBACK_NOW"] = os.environ.get("WINBACK_NOW", FROZEN)
    os.environ.setdefault("WINBACK_OPERATOR", "bench")
    folder = args.dir or Path(tempfile.mkdtemp(prefix="winback-bench-tui-"))
    folder.mkdir(parents=True, exist_ok=True)
    ws = _workspace(folder, args.users)
    painted, data_only = asyncio.run(_first_paint(ws))
    print(f"first paint of the overview, {args.users:,} users: {painted * 1000:.0f} ms "
          f"(target ≤ 1000 ms); the data read alone {data_only * 1000:.0f} ms; "
          f"UI overhead ×{painted / data_only:.1f} of the read" if data_only else "")
    if args.send:
        big = _workspace(folder, args.send)
        idle = asyncio.run(_key_latency(big, args.presses))
        print(f"key press → screen updated, nothing running: {_summary(idle)}")
        proc, name = _start_send(big, args.send)
        try:
            time.sleep(2.0)  # the send is under way before we measure
            busy = asyncio.run(_key_latency(big, args.presses))
            still = proc.poll() is None
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        print(f"key press → screen updated, while sending {name!r}: {_summary(busy)} (target ≤ 100 ms)"
              f"{'' if still else ' — the send finished during the measurement'}")
        print(f"ratio busy/idle (median): ×{statistics.median(busy) / statistics.median(idle):.2f}")
    return 0
