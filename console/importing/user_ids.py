"""Which user an events file's external id names: {external id: user id}, compact for a large base.

An events import looks every record's user up, so the map must answer a batch at C speed. A Python dict does, but
holds ~120 bytes a user (the key string, the id object, the table slot): 120 MB at a million users, most of the
import's memory. From COMPACT_MIN_USERS on, the map keeps three numpy arrays instead (20 bytes a user): each
external id's 64-bit string hash (sorted), its CRC-32 and the user id. A batch is looked up with one
searchsorted; a hit needs both the 64-bit hash (SipHash, keyed at random per process) and the independent CRC-32 to
agree, so a wrong match would take a 96-bit coincidence (about 2⁻⁵³ over ten million look-ups in a million users:
far rarer than a memory error). Users whose 64-bit hashes collide with each other are kept exactly, in a dict.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from typing import Any
from zlib import crc32

COMPACT_MIN_USERS = 200_000
_FETCH = 65_536


class UserIds:
    """Look external ids up: get_many for a batch (a list, None where no user has the id), get and `in` for one."""

    def __init__(self, exact: dict[str, int] | None = None) -> None:
        self.exact: dict[str, int] = exact if exact is not None else {}
        # numpy arrays when compact (see load), in the order of the sorted hashes (numpy is imported only then)
        self.hashes: Any = None
        self.crcs: Any = None
        self.ids: Any = None

    @classmethod
    def load(cls, conn: sqlite3.Connection, compact_min: int = COMPACT_MIN_USERS) -> UserIds:
        """Every user, as the database holds them now."""
        (count,) = conn.execute("SELECT count(*) FROM users").fetchone()
        sql = "SELECT external_id, id FROM users"
        if count < compact_min:
            return cls(dict(conn.execute(sql)))
        return cls._compact(conn, sql, count)

    @classmethod
    def _compact(cls, conn: sqlite3.Connection, sql: str, count: int) -> UserIds:
        import numpy as np

        hashes, crcs, ids = [], [], []
        for exts, numbers in _external_ids(conn, sql, count):
            hashes.append(np.fromiter(map(hash, exts), np.int64, len(exts)))
            crcs.append(np.fromiter(map(crc32, _utf8(exts)), np.uint32, len(exts)))
            ids.append(numbers)
        self = cls()
        if not hashes:
            return self
        all_hashes = np.concatenate(hashes)
        order = np.argsort(all_hashes, kind="stable")
        sorted_hashes = all_hashes[order]
        clash = sorted_hashes[1:] == sorted_hashes[:-1]
        keep = np.ones(len(order), dtype=bool)
        if clash.any():  # practically never: then those users are looked up by their exact id
            shared = set(sorted_hashes[1:][clash].tolist())
            keep = ~np.isin(sorted_hashes, list(shared))
            self.exact = {ext: user for ext, user in conn.execute(sql) if hash(ext) in shared}
        self.hashes = sorted_hashes[keep]
        self.crcs = np.concatenate(crcs)[order][keep]
        self.ids = np.concatenate(ids)[order][keep]
        return self

    def get_many(self, exts: Sequence[str]) -> list[int | None]:
        if self.hashes is None:
            return list(map(self.exact.get, exts))
        import numpy as np

        n = len(exts)
        if n == 0 or len(self.hashes) == 0:
            return list(map(self.exact.get, exts))
        wanted = np.fromiter(map(hash, exts), np.int64, n)
        # Looked up in sorted order: each search starts where the previous ended (4× faster than in file order).
        order = np.argsort(wanted)
        at = np.empty_like(order)
        at[order] = np.searchsorted(self.hashes, wanted[order])
        at[at == len(self.hashes)] = 0
        hit = (self.hashes[at] == wanted) & (self.crcs[at] == np.fromiter(map(crc32, _utf8(exts)), np.uint32, n))
        found: list[int | None] = self.ids[at].tolist()
        if not hit.all():
            for j in np.flatnonzero(~hit).tolist():
                found[j] = self.exact.get(exts[j])  # None, unless the id is one of the clashing users
        return found

    def get(self, ext: str) -> int | None:
        return self.get_many([ext])[0]

    def __contains__(self, ext: object) -> bool:
        return isinstance(ext, str) and self.get(ext) is not None

    def __getitem__(self, ext: str) -> int:
        user = self.get(ext)
        if user is None:
            raise KeyError(ext)
        return user


# Every user's external id and id, each column as one text SQLite joins (in C): fetching a million rows as Python
# tuples cost twice as much as the rest of the map. An external id holding the separator (no import lets a
# control character in, but a database written otherwise might) is noticed by the count, and read row by row.
_JOINED = "SELECT count(*), group_concat(external_id, char(31)), group_concat(id) FROM users"
_SEP = "\x1f"
_SLICE_CHARS = 1 << 20  # split the joined ids a slice at a time (~100,000 strings alive, not every user's)
_JOINED_MAX_USERS = 2_000_000  # beyond, the joined texts themselves would weigh (~20 MB a million): row by row


def _external_ids(conn: sqlite3.Connection, sql: str, count: int) -> Iterator[tuple[list[str], Any]]:
    """(external ids, their user ids as a numpy array) in slices, every user once (*count*: how many there are)."""
    import numpy as np

    if 0 < count <= _JOINED_MAX_USERS:
        counted, joined, numbers = conn.execute(_JOINED).fetchone()
        ids = np.fromstring(numbers or "", dtype=np.int64, sep=",")
        # Users added since the count (another import), or an id holding the separator: read row by row instead.
        if counted == count and len(ids) == count and joined.count(_SEP) == count - 1:
            start = done = 0
            while start <= len(joined):
                end = joined.find(_SEP, start + _SLICE_CHARS)
                end = len(joined) if end < 0 else end
                exts = joined[start:end].split(_SEP)
                yield exts, ids[done:done + len(exts)]
                done += len(exts)
                start = end + 1
            return
    cursor = conn.execute(sql)
    while rows := cursor.fetchmany(_FETCH):
        exts, users = zip(*rows, strict=True)
        yield list(exts), np.array(users, dtype=np.int64)


def _utf8(texts: Sequence[str]) -> Iterable[bytes]:
    try:
        return list(map(str.encode, texts))
    except UnicodeEncodeError:  # a lone surrogate (no decoded file has one): encoded all the same, never refused
        return list(map(str.encode, texts, repeat("utf-8"), repeat("surrogatepass")))
