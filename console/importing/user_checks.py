"""Reading and checking a users file: each record's id, phone, email, time zone, sign-up time and consents.

This runs in the import's reader process for a large file (console.importing.pipeline), so it imports only what
reading and checking need (not sqlite_utils, which loads pandas). The checked batches go to
console.importing.user_stage.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.channel_names import CHANNELS
from console.importing.bulk_cells import Phones
from console.importing.mappings import Rewrite
from console.importing.reading import Source
from console.importing.user_columns import FIRST_CONSENT, PUSH_TOKEN, check_columns
from console.importing.user_side import SideAppender, SideSpec
from console.importing.user_tokens import push_token_problem
from console.importing.values import (
    CONSENT_WORDS,
    EmailParser,
    PhoneParser,
    TimeParser,
    parse_consent,
    parse_timezone,
)

# Columns stored on the user row, in file order of `values` (consents follow).
PROFILE_COLUMNS = ("name", "phone", "email", "region", "gender", "age_band", "occupation", "timezone", "locale",
                   "signup_at", "push_token")
# Every channel a person consents to: call and gift come from the CRM export too.
CONSENT_CHANNELS = CHANNELS
USER_COLUMNS = ("external_id", *PROFILE_COLUMNS, *(f"consent_{c}" for c in CONSENT_CHANNELS))
MAX_TEXT = 500
# the consent cells follow the profile columns in a record's values (user_columns keeps the positions)
assert USER_COLUMNS.index("push_token") + 1 == FIRST_CONSENT == USER_COLUMNS.index("consent_sms")


@dataclass
class Spec:
    """What a reader needs to check a users file — picklable, for the second process."""

    path: Path
    encoding: str
    format: str
    mapping: dict[str, str]
    region: str
    timezone: str
    positions: list[int]  # which of USER_COLUMNS go into the upsert, after external_id
    now: int
    batch: int
    rewrite: Rewrite | None = None  # a saved mapping's date format and row filter
    side: SideSpec | None = None  # where the checked users are staged (None: a dry run)
    skip_invalid: bool = False  # stage the valid users of a batch with invalid ones (else staging stops there)
    # The file's consent columns (as UserStage stages them): only these are read, so an absent one costs nothing.
    channels: tuple[str, ...] = CONSENT_CHANNELS


@dataclass
class Checked:
    """One batch, checked: its counts and bad records with their problems. Its valid users are already staged
    (console.importing.user_side), so the writer process is sent only this."""

    rows: int
    valid: int
    bad: list[tuple[int, list[tuple[str, str]], Any]]
    position: int
    filtered: int = 0  # records the saved mapping's `where` left out
    ascending: bool = True  # the external ids staged so far ascend (user_side.SideAppender.ascending)


def checked_batches(spec: Spec, validate: RowValidator | None = None) -> Generator[Checked, None, None]:
    """Read and check the file batch by batch (in this process or the reader process)."""
    validate = validate or RowValidator(spec.region, spec.timezone)
    src = Source(spec.path, known=USER_COLUMNS, mapping=spec.mapping, encoding=spec.encoding, format=spec.format,
                 rewrite=spec.rewrite)
    # The valid users are staged here, where they are checked (console.importing.user_side): the batch that goes
    # to the writer carries only the counts, the invalid records and the position.
    appender = SideAppender(spec.side) if spec.side is not None else None
    consents = [FIRST_CONSENT + CONSENT_CHANNELS.index(c) for c in spec.channels]
    writing = appender is not None
    try:
        for batch in src.batches(spec.batch):
            users, valid, bad = check_columns(batch, validate, spec.positions, spec.now, MAX_TEXT, _CONSENT_CELLS,
                                              _UNKNOWN, consents)
            if bad and not spec.skip_invalid:
                writing = False  # the file will be refused: nothing more is staged
            if writing and appender is not None:
                appender.write(users)
            yield Checked(len(batch.values), valid, bad, src.position(), batch.filtered,
                          appender.ascending if appender is not None else True)
    finally:
        if appender is not None:
            appender.close()


# Consent cells as usually written, looked up as they are (others go through parse_consent).
_CONSENT_CELLS = {"": None, **{word: status for text, status in CONSENT_WORDS.items()
                               for word in (text, text.upper(), text.title())}}
_UNKNOWN = object()
_UNKNOWN_CONSENTS = (_UNKNOWN,) * len(CONSENT_CHANNELS)


class RowValidator:
    """Checks and normalises one users record: (clean values, consent statuses, problems)."""

    def __init__(self, region: str, timezone: str) -> None:
        self.phone = PhoneParser(region)
        self.email = EmailParser()
        self.phones = Phones(self.phone)  # whole columns at once (console.importing.bulk_cells)
        self.time = TimeParser(timezone)
        self._zones: dict[str, str] = {}

    def zone_or(self, text: str, failed: object) -> object:
        """The IANA name of a time zone cell (stripped, not empty), or *failed* when it is none."""
        known = self._zones.get(text)
        if known is None:
            try:
                known = self._zones[text] = parse_timezone(text)
            except ValueError:
                return failed
        return known

    def __call__(self, values: tuple) -> tuple[list, tuple, list[tuple[str, str]]]:
        found: list[tuple[str, str]] = []
        clean: list = [v.strip() or None for v in values[:FIRST_CONSENT]]
        ext = clean[0]
        if ext is None:
            found.append(("external_id", "empty; every user needs an external id"))
        elif len(ext) > 200:
            found.append(("external_id", "longer than 200 characters"))
        for i, column, parse in ((2, "phone", self.phone), (3, "email", self.email)):
            if clean[i] is not None:
                try:
                    clean[i] = parse(clean[i])
                except ValueError as exc:
                    found.append((column, str(exc)))
        zone = clean[8]
        if zone is not None:
            known = self._zones.get(zone)
            if known is None:
                try:
                    known = self._zones[zone] = parse_timezone(zone)
                except ValueError as exc:
                    found.append(("timezone", str(exc)))
            clean[8] = known
        if clean[10] is not None:
            try:
                clean[10] = self.time(clean[10])
            except ValueError as exc:
                found.append(("signup_at", str(exc)))
        if max(map(len, values)) > MAX_TEXT:  # as written: no stripped cell is longer
            for i in (1, 4, 5, 6, 7, 9):
                if clean[i] is not None and len(clean[i]) > MAX_TEXT:
                    found.append((USER_COLUMNS[i], f"longer than {MAX_TEXT} characters"))
        if clean[PUSH_TOKEN] is not None:
            problem = push_token_problem(clean[PUSH_TOKEN])
            if problem:
                found.append(("push_token", problem))
        consents = tuple(map(_CONSENT_CELLS.get, values[FIRST_CONSENT:], _UNKNOWN_CONSENTS))
        if _UNKNOWN not in consents:
            return clean, consents, found
        parsed: list[str | None] = []
        for column, cell in zip(USER_COLUMNS[FIRST_CONSENT:], values[FIRST_CONSENT:], strict=True):
            if cell and cell.strip():
                try:
                    parsed.append(parse_consent(cell))
                except ValueError as exc:
                    found.append((column, str(exc)))
                    parsed.append(None)
            else:
                parsed.append(None)
        return clean, tuple(parsed), found
