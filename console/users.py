"""Finding a user the way operators name them: by the external id from their import (what they see), or by
#internal-id where a command allows it. The one place these lookups and their error messages are written."""

from __future__ import annotations

from typing import TypedDict, cast

import sqlite_utils

from console.errors import NotFound


def user_id_by_external_id(db: sqlite_utils.Database, external_id: str) -> int | None:
    """The internal id of the user with this external id, or None."""
    row = db.execute("SELECT id FROM users WHERE external_id = ?", [external_id]).fetchone()
    return None if row is None else int(row[0])


def require_user_id(db: sqlite_utils.Database, external_id: str) -> int:
    """The internal id of the user with this external id; NotFound names the id if there is none."""
    user_id = user_id_by_external_id(db, external_id)
    if user_id is None:
        raise NotFound(f"no user with external id {external_id!r}")
    return user_id


class UserRef(TypedDict):
    id: int                    # internal
    external_id: str


def find_user(db: sqlite_utils.Database, ref: str | int, *, bare_id: bool = False) -> UserRef:
    """{id, external_id} of a user named by external id, else by #internal-id (an int is an internal id).

    `bare_id`: digits without the # are an internal id too when no external id matches (message previews)."""
    if isinstance(ref, int):
        rows = list(db.query("SELECT id, external_id FROM users WHERE id = ?", [ref]))
    else:
        rows = list(db.query("SELECT id, external_id FROM users WHERE external_id = ?", [ref]))
        digits = ref[1:] if ref.startswith("#") else (ref if bare_id else "")
        if not rows and digits.isdigit():
            rows = list(db.query("SELECT id, external_id FROM users WHERE id = ?", [int(digits)]))
    if not rows:
        raise NotFound(f"no user {ref!r}{_did_you_mean(db, ref)} (give the external id from your import, or "
                       "#internal-id)")
    return cast(UserRef, rows[0])


def _did_you_mean(db: sqlite_utils.Database, ref: str | int) -> str:
    """External ids match exactly; `u0000042` or a pasted ` U0000042 ` names the one that differs only in case or
    spaces. Only on the way to an error, so the scan (no index for NOCASE) costs nothing on the normal path."""
    if isinstance(ref, int) or not ref.strip():
        return ""
    row = db.execute("SELECT external_id FROM users WHERE external_id = ? COLLATE NOCASE LIMIT 1",
                     [ref.strip()]).fetchone()
    return f"; did you mean {row[0]!r}?" if row else ""
