"""One person: find them (by external id, phone, last four digits with the name, email or name) and gather their
page — profile and layer, consent and suppressions with reasons and sources, recent events, every message
planned or sent to them, and `why` for a campaign.

Contact details are masked (138****5678, 王*) unless the caller asks to unmask, and then the access is audited
as the CLI audits `segments members --unmask` and `why --unmask` (PIPL: who saw whom is recorded).
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from typing import TYPE_CHECKING, Any, TypedDict, cast

import sqlite_utils

from console import audit
from console.config import Config
from console.errors import BadInput, NotFound
from console.privacy import mask_address, mask_email, mask_name, mask_phone
from console.simulated import SIMULATED_BY, SIMULATED_PROGRAM_SQL

if TYPE_CHECKING:
    from console.policy.consent import ConsentRow

# More matches than this: the operator is asked to say more (a list of hundreds helps nobody find one person).
MATCH_LIMIT = 20
RECENT_EVENTS = 20

_USER_COLUMNS = "u.id, u.external_id, u.name, u.phone, u.email, u.region, u.timezone"
_LAST_FOUR = re.compile(r"^(?:(\d{4})\s+(.+)|(.+?)\s+(\d{4}))$")


class _UserRow(TypedDict):   # _USER_COLUMNS of a user, as stored
    id: int
    external_id: str
    name: str | None
    phone: str | None
    email: str | None
    region: str | None
    timezone: str | None


class _MatchRow(_UserRow):   # _query
    layer: str | None           # from their profile; None before the first refresh


class _PageRow(_UserRow):    # _user: what the person page adds
    push_token: str | None
    signup_at: int | None
    gender: str | None
    age_band: str | None


class PersonMatch(TypedDict):
    """One person as `find` lists them; contact details masked unless unmasked."""

    user: str                 # external id
    name: str | None
    phone: str | None
    email: str | None
    region: str | None
    layer: str | None


class Person(PersonMatch):
    """The person at the top of their page."""

    timezone: str | None
    signup_at: int | None
    gender: str | None
    age_band: str | None
    unmask: bool


class PersonPage(TypedDict):
    """Everything the person page shows (`page`); the rows are the tables' columns as selected there."""

    person: Person
    profile: dict[str, Any] | None
    consents: list[ConsentRow]
    suppressions: list[dict[str, Any]]
    events: list[dict[str, Any]]
    event_count: int
    messages: list[dict[str, Any]]
    campaigns: list[str]


def _shaped(row: _UserRow, layer: str | None, unmask: bool) -> PersonMatch:
    return {
        "user": row["external_id"],
        "name": row["name"] if unmask else mask_name(row["name"]),
        "phone": row["phone"] if unmask else mask_phone(row["phone"]),
        "email": row["email"] if unmask else mask_email(row["email"]),
        "region": row["region"],
        "layer": layer,
    }


def _query(db: sqlite_utils.Database, where: str, params: list[Any]) -> list[_MatchRow]:
    return cast(list[_MatchRow], list(db.query(
        f"SELECT {_USER_COLUMNS}, p.layer FROM users u LEFT JOIN profiles p ON p.user_id = u.id "
        f"WHERE {where} ORDER BY u.id LIMIT {MATCH_LIMIT + 1}", params)))


def _like(text: str) -> str:
    """`text` for a LIKE pattern, its own % and _ taken literally (a name with an underscore is not a wildcard)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _phone_candidates(text: str, region: str) -> list[str]:
    """The stored forms a typed phone number may have: E.164 as read in the workspace region, and as typed."""
    from console.policy.suppression import normalise_address

    forms = [text]
    with contextlib.suppress(BadInput):  # not a number phonenumbers can read: look it up as typed
        forms.insert(0, normalise_address(text, "sms", region))
    return forms


def find(db: sqlite_utils.Database, text: str, *, region: str = "CN") -> list[PersonMatch]:
    """People matching `text`, masked: an external id; an email; a phone number (as dialled or +CC); the last
    four digits of the phone with (part of) the name ("5678 王" or "Wang 5678"); else (part of) a name.

    At most MATCH_LIMIT; BadInput when the text is empty, or when more match than that (say more)."""
    # '１３８…', '５６７８ 王', 'ｕ＠ｅｘａｍｐｌｅ.com' from a Chinese input method read as their ASCII twins (NFKC;
    # a name's 汉字 are unchanged by it)
    text = " ".join(unicodedata.normalize("NFKC", text or "").split())
    if not text:
        raise BadInput("type an external id, a phone number, an email, a name, or the last four digits and the name")
    exact = _query(db, "u.external_id = ?", [text])
    if exact:
        return [_shaped(r, r["layer"], False) for r in exact]
    digits = text.replace(" ", "").replace("-", "")
    if "@" in text:
        rows = _query(db, "u.email = ?", [text.lower()])
    elif digits.lstrip("+").isdigit() and len(digits.lstrip("+")) >= 7:
        forms = _phone_candidates(text, region)
        rows = _query(db, f"u.phone IN ({', '.join('?' for _ in forms)})", forms)
    elif text.isdigit():
        raise BadInput(f"{text!r}: with only the last digits of a phone, add the name too (\"{text} 王\")")
    else:
        tail = _LAST_FOUR.match(text)
        if tail:
            last4 = tail.group(1) or tail.group(4)
            name = (tail.group(2) or tail.group(3)).strip()
            rows = _query(db, "u.phone LIKE ? AND u.name LIKE ? ESCAPE '\\'", [f"%{last4}", f"%{_like(name)}%"])
        else:
            rows = _query(db, "u.name = ?", [text]) or _query(db, "u.name LIKE ? ESCAPE '\\'", [f"%{_like(text)}%"])
    if len(rows) > MATCH_LIMIT:
        raise BadInput(f"more than {MATCH_LIMIT} people match {text!r}: add the last four digits of the phone, "
                       "or give the external id or email")
    return [_shaped(r, r["layer"], False) for r in rows]


def _user(db: sqlite_utils.Database, external_id: str) -> _PageRow:
    row = next(iter(db.query(
        f"SELECT {_USER_COLUMNS}, u.push_token, u.signup_at, u.gender, u.age_band FROM users u "
        "WHERE u.external_id = ?", [external_id])), None)
    if row is None:
        raise NotFound(f"no user with external id {external_id!r}")
    return cast(_PageRow, row)


def _audit_unmask(db: sqlite_utils.Database, action: str, **details: Any) -> None:
    audit.record_now(db, action, **details)


def page(db: sqlite_utils.Database, external_id: str, *, unmask: bool = False) -> PersonPage:
    """Everything the person page shows, masked unless `unmask` (then audited as `person.unmask`).

    Times are epoch seconds (the screen shows them in the workspace zone through console.timefmt)."""
    user = _user(db, external_id)
    uid = user["id"]
    profile = next(iter(db.query(
        "SELECT dormancy, layer, rf_cell, orders, spend, aov, top_category, last_event_at, last_order_at, "
        "last_visit_at, first_seen_at FROM profiles WHERE user_id = ?", [uid])), None)
    from console.policy.consent import consent_history

    addresses = [a for a in (user["phone"], user["email"], user["push_token"]) if a]
    marks = ", ".join("?" for _ in addresses) or "NULL"
    suppressions = list(db.query(
        "SELECT id, channel, address, user_id, reason, source, note, at, created_by, removed_at, removed_by, "
        f"removed_reason FROM suppressions WHERE user_id = ? OR address IN ({marks}) ORDER BY at DESC, id DESC",
        [uid, *addresses]))
    for entry in suppressions:
        entry["in_force"] = entry["removed_at"] is None
        entry["target"] = "user" if entry["address"] is None else (
            entry["address"] if unmask else mask_address(_address_channel(entry), entry["address"]))
    events = list(db.query(
        "SELECT kind, at, amount, category, object, source FROM events WHERE user_id = ? ORDER BY at DESC, id DESC "
        f"LIMIT {RECENT_EVENTS}", [uid]))
    event_count = db.execute("SELECT count(*) FROM events WHERE user_id = ?", [uid]).fetchone()[0]
    messages = list(db.query(
        "SELECT s.id, c.name AS campaign, s.run, s.arm, s.channel, s.status, s.reason, s.error, s.dry_run, "
        # made up: the demo's simulated campaign, or a dry-run row of its simulated program's steps that the demo
        # ran (an operator's own run-due after it is their dry run, not made up)
        f"(c.simulated OR (s.dry_run AND {SIMULATED_PROGRAM_SQL} IS NOT NULL AND EXISTS (SELECT 1 FROM campaign_runs "
        f"r WHERE r.campaign_id = s.campaign_id AND r.run = s.run AND r.started_by = '{SIMULATED_BY}'))) AS simulated, "
        "s.cost, s.coupon_code, coalesce(s.sent_at, s.claimed_at, s.updated_at) AS at, s.not_before "
        "FROM sends s JOIN campaigns c ON c.id = s.campaign_id WHERE s.user_id = ? "
        "ORDER BY coalesce(s.sent_at, s.claimed_at, s.updated_at) DESC, s.id DESC", [uid]))
    campaigns = [r["name"] for r in db.query("SELECT name FROM campaigns ORDER BY created_at DESC, id DESC")]
    if unmask:
        _audit_unmask(db, "person.unmask", user=external_id)
    shaped: Person = {**_shaped(user, profile["layer"] if profile else None, unmask),
                      "timezone": user["timezone"], "signup_at": user["signup_at"], "gender": user["gender"],
                      "age_band": user["age_band"], "unmask": unmask}
    return {
        "person": shaped,
        "profile": profile,
        "consents": consent_history(db, uid),
        "suppressions": suppressions,
        "events": events,
        "event_count": event_count,
        "messages": messages,
        "campaigns": campaigns,
    }


def _address_channel(entry: dict[str, Any]) -> str:
    """How to mask a suppressed address whose entry may say 'all': by what the address looks like."""
    address = entry["address"] or ""
    if "@" in address:
        return "email"
    if address.lstrip("+").isdigit():
        return "sms"
    return entry["channel"]


def why(db: sqlite_utils.Database, config: Config, external_id: str, campaign: str, *,
        unmask: bool = False) -> list[str]:
    """`winback why USER --campaign C` in lines (console.policy.explain); unmasking is audited as the CLI does
    (`policy.why.unmask`)."""
    from console.policy.explain import explain, explanation_lines

    decision = explain(db, config, external_id, campaign, unmask=unmask)
    if unmask:
        _audit_unmask(db, "policy.why.unmask", user=external_id, campaign=campaign)
    return explanation_lines(decision)
