"""One owner for the send ledger's states and the campaign lifecycle (issue #16).

`console/campaigns/ledger.py` is the only module that writes `sends.status` or `campaigns.status`. This test reads
every Python file of the project (not the tests: they set up states on purpose) and fails on SQL — or a
sqlite-utils `insert`/`update` — that writes either column anywhere else, so the rule stays enforced.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("console", "storage", "screens", "fixtures")
OWNER = Path("console/campaigns/ledger.py")
# Schema history: a migration must not depend on today's code (it runs against old databases as they were).
EXEMPT_DIRS = (Path("storage/migrations"),)
TABLES = ("sends", "campaigns")

_UPDATE = re.compile(r"\bupdate\s+(?:or\s+\w+\s+)?(?:main\.)?(\w+)\s+set\s+(.*?)(?:\bwhere\b|\bfrom\b|$)", re.S)
_INSERT = re.compile(r"\binsert\s+(?:or\s+\w+\s+)?into\s+(?:main\.)?(\w+)\s*\(([^)]*)\)", re.S)
_SETS_STATUS = re.compile(r"(?:^|,)\s*status\s*=")


def sql_writes_status(sql: str) -> list[str]:
    """Which of TABLES this SQL text writes the status column of (empty when none)."""
    text = " ".join(sql.lower().split())
    hits = []
    for table, assignments in _UPDATE.findall(text):
        if table in TABLES and _SETS_STATUS.search(assignments):
            hits.append(f"UPDATE {table} SET status")
    for table, columns in _INSERT.findall(text):
        if table in TABLES and "status" in [c.strip() for c in columns.split(",")]:
            hits.append(f"INSERT INTO {table} (status)")
    return hits


def _texts(node: ast.AST) -> list[str]:
    """String literals of a module; an f-string counts as its literal parts joined (placeholders as '?')."""
    out = []
    for n in ast.walk(node):
        if isinstance(n, ast.JoinedStr):
            out.append("".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "?"
                               for v in n.values))
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            out.append(n.value)
    return out


def _table_api_writes(node: ast.AST) -> list[str]:
    """db["sends"].update(..., {"status": ...}) / .insert({... "status": ...}) and friends."""
    hits = []
    for n in ast.walk(node):
        if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and n.func.attr in ("insert", "insert_all", "update", "upsert", "upsert_all")):
            continue
        target = n.func.value
        if not (isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant)
                and target.slice.value in TABLES):
            continue
        for arg in [*n.args, *(k.value for k in n.keywords)]:
            if isinstance(arg, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "status"
                                                 for k in arg.keys):
                hits.append(f'db["{target.slice.value}"].{n.func.attr}(status=…)')
    return hits


def status_writers() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            rel = file.relative_to(ROOT)
            if rel == OWNER or any(rel.is_relative_to(d) for d in EXEMPT_DIRS):
                continue
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(rel))
            hits = [h for text in _texts(tree) for h in sql_writes_status(text)] + _table_api_writes(tree)
            if hits:
                found[str(rel)] = hits
    return found


def test_nothing_but_the_ledger_writes_a_send_or_campaign_status() -> None:
    assert status_writers() == {}


def test_the_ledger_module_itself_is_seen_writing() -> None:
    # the scanner is not blind: the owner's own SQL is found by the same rules
    tree = ast.parse((ROOT / OWNER).read_text(encoding="utf-8"))
    hits = {h for text in _texts(tree) for h in sql_writes_status(text)}
    assert {"UPDATE sends SET status", "UPDATE campaigns SET status"} <= hits


def test_the_scanner_reads_sql_the_way_it_is_written() -> None:
    assert sql_writes_status("UPDATE sends SET status = 'sent', sent_at = ? WHERE id = ?")
    assert sql_writes_status("update  campaigns\n set pause_reason = ?,\n  status = ? where id = ?")
    assert sql_writes_status("INSERT OR IGNORE INTO sends (campaign_id, user_id, status) SELECT …")
    assert sql_writes_status("UPDATE sends SET status = ? FROM temp.x WHERE …")
    # reading a status, or writing another column where a status is tested, is not a write of it
    assert not sql_writes_status("UPDATE sends SET handed_at = ? WHERE id = ? AND status = 'claimed'")
    assert not sql_writes_status("SELECT status FROM campaigns WHERE id = ?")
    assert not sql_writes_status("UPDATE campaign_runs SET spent = spent - ? WHERE campaign_id = ?")
    assert not sql_writes_status("UPDATE sends SET last_status = ? WHERE id = ?")
