"""Honest tests that hold at any hour: every "now" that decides or records something reads the business clock
(console/clock.py), which WINBACK_NOW freezes in tests — so no code path gives a different result at 23:59, on the
first of a month or on a Sunday than the one a test pinned.

This is a static check, not a run under a faked clock (libfaketime made threading's timed waits hang). It parses
every module of console/, storage/ and screens/ and names each wall-clock read outside console/clock.py:
time.time(), time.time_ns(), datetime.now()/utcnow()/today(), date.today() (however imported or aliased, called
or passed as a function), time.localtime()/gmtime()/ctime()/strftime() without an explicit time, `from time import
time`, and SQLite's own clock in SQL text ('now', CURRENT_TIMESTAMP). Durations are fine: time.monotonic(),
perf_counter(), process_time(), sleep(). The tests themselves are held to it too: an expected value built from
the machine's clock would make a test's verdict change with the hour or the date.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("console", "storage", "screens")
CLOCK = "console/clock.py"

# Reads of the wall clock that are not the business clock, on purpose: (file, enclosing function) → why.
ALLOWED: dict[tuple[str, str], str] = {
    # A channel's sending window is a timestamp stored in channel_pacing and compared by every process sending on
    # the channel, so it must be a time all processes share (time.monotonic()'s origin is per boot and undefined);
    # and it must really pass — under a frozen business clock the booked windows would never open.
    ("console/campaigns/pacing.py", "book_window"): "a cross-process rate window stored in the database",
    ("console/campaigns/pacing.py", "send_in_window"): "waits for that stored window to open",
}

# In tests/: expected values are built from the frozen WINBACK_NOW (tests/conftest.py), never from the machine's
# clock, or a test's verdict would change with the hour or the date.
ALLOWED_IN_TESTS: dict[tuple[str, str], str] = {
    # the benchmark is not a test: its generated users and events are dated back from the real now, as the
    # product's own clock reads when WINBACK_NOW is unset; nothing is asserted on them
    ("tests/bench/bench_messages.py", "_generate"): "benchmark data dated from the real now",
}

# Always a reading of "now", called or handed over as a function (default_factory=time.time reads it later).
ALWAYS = {"time.time", "time.time_ns", "datetime.datetime.now", "datetime.datetime.utcnow",
          "datetime.datetime.today", "datetime.date.today"}
# Now unless given a time: the index of the argument that carries it.
NOW_WITHOUT_ARG = {"time.localtime": 0, "time.gmtime": 0, "time.ctime": 0, "time.strftime": 1}
# SQLite reading its own clock: date('now'), strftime('%s', 'now'), CURRENT_TIMESTAMP …
SQL_NOW = re.compile(r"\b(?:date|time|datetime|julianday|unixepoch|strftime)\s*\([^()]*'now'|"
                     r"\bCURRENT_(?:TIMESTAMP|DATE|TIME)\b", re.IGNORECASE)


def _imports(tree: ast.AST) -> dict[str, str]:
    """Local name → what it stands for ("time", "datetime.datetime", "time.time" …), from every import."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    names[head] = head
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.AST, names: dict[str, str]) -> str | None:
    """`a.b.c` with `a` resolved through the imports; None for anything else (a call's result, a subscript)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in names:
        return None
    return ".".join([names[node.id], *reversed(parts)])


class _Finder(ast.NodeVisitor):
    def __init__(self, path: str, names: dict[str, str]):
        self.path, self.names = path, names
        self.function = "<module>"
        self.found: list[tuple[int, str, str]] = []   # (line, what, enclosing function)

    def _hit(self, node: ast.AST, what: str) -> None:
        self.found.append((getattr(node, "lineno", 0), what, self.function))

    def _in_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer, self.function = self.function, node.name
        self.generic_visit(node)
        self.function = outer

    visit_FunctionDef = visit_AsyncFunctionDef = _in_function  # noqa: N815 - ast.NodeVisitor's naming

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if f"{node.module}.{alias.name}" in ALWAYS:
                self._hit(node, f"from {node.module} import {alias.name}")

    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func, self.names)
        at = NOW_WITHOUT_ARG.get(name or "")
        if at is not None:
            given = node.args[at] if len(node.args) > at else None
            if given is None or (isinstance(given, ast.Constant) and given.value is None):
                self._hit(node, f"{name}() without a time")
        self.generic_visit(node)

    def _reference(self, node: ast.Attribute | ast.Name) -> None:
        name = _dotted(node, self.names)
        if name in ALWAYS:
            self._hit(node, name)
        elif isinstance(node, ast.Attribute):
            self.generic_visit(node)   # datetime.now().date(): look inside for the read itself

    visit_Attribute = visit_Name = _reference  # noqa: N815

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and SQL_NOW.search(node.value):
            self._hit(node, "SQLite's clock in SQL ('now' / CURRENT_TIMESTAMP)")


def wall_clock_reads(path: Path, relative: str) -> list[tuple[int, str, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
    finder = _Finder(relative, _imports(tree))
    finder.visit(tree)
    return sorted(set(finder.found))


def _modules(tops: tuple[str, ...], skip: set[str]) -> list[tuple[Path, str]]:
    found = []
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative not in skip and "__pycache__" not in path.parts:
                found.append((path, relative))
    assert len(found) > 20, f"the scan of {tops} found too few modules: are the folders still there?"
    return found


def _strays(modules: list[tuple[Path, str]], allowed: dict[tuple[str, str], str], advice: str) -> None:
    stray, used = [], set()
    for path, relative in modules:
        for line, what, function in wall_clock_reads(path, relative):
            if (relative, function) in allowed:
                used.add((relative, function))
            else:
                stray.append(f"{relative}:{line}: {what} (in {function}) — {advice}")
    assert not stray, "wall-clock reads:\n" + "\n".join(stray)
    assert used == set(allowed), f"allowlist entries no longer needed: {sorted(set(allowed) - used)}"


def test_no_module_reads_the_wall_clock_outside_console_clock() -> None:
    _strays(_modules(SCANNED, {CLOCK}), ALLOWED,
            "read console.clock.now()/now_ts() for a business time, time.monotonic() for a duration")


def test_no_test_builds_its_expectations_from_the_wall_clock() -> None:
    _strays(_modules(("tests",), {"tests/test_clock_discipline.py"}), ALLOWED_IN_TESTS,
            "build it from WINBACK_NOW (console.clock.now_ts() in the test), time.monotonic() for a duration")


STRAYS = {
    "from datetime import datetime\ndef f():\n    return datetime.now()\n": "datetime.datetime.now",
    "import datetime as dt\nstamp = dt.date.today()\n": "datetime.date.today",
    "import time\ndef f(clock=time.time):\n    return clock()\n": "time.time",
    "from time import time\n": "from time import time",
    "from time import time_ns as ns\nx = ns()\n": "time.time_ns",
    "import time\nx = time.strftime('%H:%M')\n": "time.strftime() without a time",
    "import time\nx = time.localtime()\n": "time.localtime() without a time",
    "from datetime import datetime\nx = datetime.utcnow().date()\n": "datetime.datetime.utcnow",
    "SQL = \"SELECT * FROM t WHERE at < strftime('%s', 'now')\"\n": "SQLite's clock",
}
FINE = ("import time\nx = time.monotonic(); time.sleep(0.1); y = time.perf_counter()\n"
        "z = time.strftime('%H:%M', time.gmtime(0)); w = time.localtime(86400)\n"
        "from datetime import datetime, UTC\nd = datetime.fromtimestamp(0, UTC).strftime('%Y')\n")


@pytest.mark.parametrize("source", list(STRAYS))
def test_the_check_sees_a_stray_read(tmp_path: Path, source: str) -> None:
    path = tmp_path / "stray.py"
    path.write_text(source, encoding="utf-8")
    [(line, what, _)] = [hit for hit in wall_clock_reads(path, "stray.py") if STRAYS[source] in hit[1]]
    assert line >= 1 and what


def test_the_check_lets_durations_and_given_times_be(tmp_path: Path) -> None:
    path = tmp_path / "fine.py"
    path.write_text(FINE, encoding="utf-8")
    assert wall_clock_reads(path, "fine.py") == []
