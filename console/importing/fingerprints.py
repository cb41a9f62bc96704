"""Event fingerprints: the hash of an event's normalised content that makes re-imports add nothing.

An event's fingerprint is part of the events table's unique key (user_id, at, fingerprint). Anything that
writes events should compute it here (event_fingerprint for one event, EventColumns for a batch), so that the
same event recorded twice is stored once.
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial

EVENT_ID_KEY = '"event_id":'  # in an event's attributes text (compact JSON): the line carries its own id


def event_fingerprint(
    user_id: int,
    kind: str,
    at: int,
    amount: float | None = None,
    category: str | None = None,
    object: str | None = None,
    source: str | None = None,
    coupon_code: str | None = None,
    attributes: str | None = None,
    *,
    occurrence: int = 0,
) -> int:
    """A stable signed 64-bit hash of a normalised event (fields joined by U+001F, None as '').

    Attributes (a JSON text with sorted keys) only take part when present, so an event without them hashes
    the same as fixtures.demo's fingerprint of the same eight fields. *occurrence* numbers identical events
    from one source (0 for the first): see occurrence_fingerprint.
    """
    text = (
        f"{user_id}\x1f{kind}\x1f{at}\x1f{'' if amount is None else amount}\x1f{category or ''}\x1f"
        f"{object or ''}\x1f{source or ''}\x1f{coupon_code or ''}"
    )
    if attributes is not None:
        text += "\x1f" + attributes
    first = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)
    return occurrence_fingerprint(first, occurrence) if occurrence else first


def occurrence_fingerprint(first: int, occurrence: int) -> int:
    """The fingerprint of the *occurrence*-th repeat (1, 2, …) of an event whose first has fingerprint *first*.

    A function of the first's fingerprint, not of the content, so that repeats can be numbered from stored rows.
    """
    text = f"{first}\x1f{occurrence}"
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


_FIELD_SEP = "\x1f"
# The text event_fingerprint hashes, for a row of eight texts (str() of an int or a float is what an f-string
# writes; a missing amount is '' here and NULL in the database).
_JOIN = _FIELD_SEP.join
_HASH8 = partial(hashlib.blake2b, digest_size=8)
_DIGEST = hashlib.blake2b.digest


@dataclass
class EventColumns:
    """The valid events of a batch, column by column (lists of equal length).

    Empty text (and a missing amount) is '' — SQL's nullif stores NULL — so that the hot path needs no
    per-row Python. Columns pickle much faster than rows of tuples when sent between processes.
    """

    user_id: list[int]
    kind: list[str]
    at: list[int]
    amount: list[float | str]
    category: list[str]
    object: list[str]
    source: list[str]
    coupon_code: list[str]
    attributes: list[str | None] | None  # None: no event in the batch has attributes
    fingerprint: list[int] | None = None  # None: not computed yet (see add_fingerprints)
    packed: array | None = None  # the same, as machine integers (for counting identical lines without a copy)

    def __len__(self) -> int:
        return len(self.user_id)

    def add_fingerprints(self) -> None:
        """Each row's event_fingerprint, computed with C-level maps (no Python bytecode per row)."""
        if self.fingerprint is not None:
            return
        texts: Iterable[str] = map(_JOIN, zip(map(str, self.user_id), self.kind, map(str, self.at),
                                             map(str, self.amount), self.category, self.object, self.source,
                                             self.coupon_code, strict=True))
        if self.attributes is not None:
            texts = [t if a is None else t + _FIELD_SEP + a for t, a in zip(texts, self.attributes, strict=True)]
        # Eight big-endian bytes per event, read at once as signed 64-bit integers.
        numbers = array("q", b"".join(map(_DIGEST, map(_HASH8, map(str.encode, texts)))))
        if sys.byteorder == "little":
            numbers.byteswap()
        self.fingerprint = numbers.tolist()
        self.packed = numbers

    def rows(self) -> Iterator[tuple]:
        self.add_fingerprints()
        assert self.fingerprint is not None  # just computed
        attributes = self.attributes if self.attributes is not None else [None] * len(self)
        return zip(self.user_id, self.kind, self.at, self.amount, self.category, self.object, self.source,
                   self.coupon_code, attributes, self.fingerprint, strict=True)
