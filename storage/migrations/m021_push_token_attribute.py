"""Push tokens imported before the users import knew the `push_token` column move into `users.push_token`.

Until then a file's push_token column was kept as an extra column, in `users.attributes`, and push campaigns found
no address for those users (skipped as 'invalid address'). Here, for each user whose `push_token` is empty and
whose attributes hold a `push_token` key (any case, as the header was written), the token moves: the column gets it
(outer spaces dropped, as the import does) and the key leaves the attributes (NULL when nothing else is left).

Left as they are: a user who already has a push token (the column is newer than the attribute: a later import or an
edit set it), and a value the import would refuse today — not text, empty, with whitespace or an invisible
character inside, or longer than 4,096 characters (console/importing/user_tokens.py) — so nothing becomes a push
address that an import could not have made one.
"""

from __future__ import annotations

import json
from typing import Any

from storage.migrations import MIGRATIONS

KEY = "push_token"
MAX_PUSH_TOKEN = 4096  # as console.importing.user_tokens (storage does not import console)


@MIGRATIONS(name="m021_push_token_attribute")
def m021_push_token_attribute(db: Any) -> None:
    rows = db.execute(
        "SELECT id, attributes FROM users WHERE (push_token IS NULL OR push_token = '') "
        "AND attributes LIKE '%push\\_token%' ESCAPE '\\'"  # LIKE ignores ASCII case: Push_Token too
    ).fetchall()
    moves = [move for user_id, text in rows if (move := _moved(user_id, text)) is not None]
    db.conn.executemany("UPDATE users SET push_token = ?, attributes = ? WHERE id = ?", moves)


def _moved(user_id: int, text: str) -> tuple[str, str | None, int] | None:
    """(token, attributes left, user id), or None when this user's attributes hold no usable token."""
    try:
        attributes = json.loads(text)
    except ValueError:
        return None
    if not isinstance(attributes, dict):
        return None
    keys = [k for k in attributes if k.strip().lower() == KEY]
    if len(keys) != 1 or not isinstance(attributes[keys[0]], str):
        return None  # two spellings of the key: which one is the token is not ours to guess
    token = attributes[keys[0]].strip()
    if not token or len(token) > MAX_PUSH_TOKEN or " " in token or not token.isprintable():
        return None
    del attributes[keys[0]]
    # stored as the import stores attributes: compact, keys sorted, UTF-8 as is
    left = json.dumps(attributes, ensure_ascii=False, sort_keys=True, separators=(",", ":")) if attributes else None
    return token, left, user_id
