"""Incentives: spend-X-get-Y-off coupons, points multipliers, free trials, or no incentive at all.

An offer is stored once; each send turns it into concrete values (an expiry date, a personal coupon code — see
console/message_context.py). A layer → offer mapping gives each layer its own threshold (由浅入深: the closer
a layer is to coming back, the smaller the incentive it needs).

An offer is never deleted: `retire` stamps it (`retired_at`). A retired offer stays readable by name for the
campaigns, programs and sends that used it; it is refused for new ones and for the layer mapping.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

import sqlite_utils

from console import audit
from console.clock import now_ts
from console.errors import BadInput, NotFound
from storage.tx import immediate

KINDS = ("coupon", "points", "trial", "none")


@dataclass
class Offer:
    name: str
    kind: str = "none"
    threshold: float | None = None
    amount: float | None = None
    currency: str | None = None
    validity_days: int | None = None
    multiplier: float | None = None
    trial_days: int | None = None
    description: str | None = None
    id: int | None = None
    retired_at: int | None = None   # set by retire(); kept out of add()'s writes

    def expires_at(self, sent_at: int, timezone: str) -> int | None:
        """End of the last valid day (23:59:59 local) for a send at *sent_at*, or None without a validity."""
        if not self.validity_days:
            return None
        tz = ZoneInfo(timezone)
        day = datetime.fromtimestamp(sent_at, tz).date() + timedelta(days=int(self.validity_days))
        end = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=tz)
        return int(end.timestamp())

    def summary(self) -> str:
        """How an operator reads the offer: "满100减20, 7 days"."""
        cur = self.currency or ""
        if self.kind == "coupon":
            text = f"{_num(self.amount)} {cur} off orders over {_num(self.threshold)} {cur}".replace("  ", " ")
        elif self.kind == "points":
            text = f"points x{_num(self.multiplier)}"
        elif self.kind == "trial":
            text = f"free trial, {self.trial_days or self.validity_days} days"
        else:
            text = "no incentive"
        if self.validity_days and self.kind != "trial":
            text += f", valid {self.validity_days} days"
        return text


def _num(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:g}"


_COLUMNS = ("id", "name", "kind", "threshold", "amount", "currency", "validity_days", "multiplier",
            "trial_days", "description", "retired_at")


def _from_row(row: dict[str, Any]) -> Offer:
    return Offer(**{k: row[k] for k in _COLUMNS})


def validate(offer: Offer) -> None:
    """Refuse an offer that cannot be sent as written, naming the field."""
    if not offer.name or not offer.name.strip():
        raise BadInput("an offer needs a name")
    if offer.kind not in KINDS:
        raise BadInput(f"offer {offer.name}: kind {offer.kind!r} is not one of {', '.join(KINDS)}")
    if offer.kind == "coupon":
        if offer.amount is None or offer.amount <= 0:
            raise BadInput(f"offer {offer.name}: a coupon needs --amount above 0")
        if offer.threshold is None or offer.threshold < 0:
            raise BadInput(f"offer {offer.name}: a coupon needs --threshold (0 for no minimum spend)")
        if offer.threshold and offer.amount >= offer.threshold:
            raise BadInput(
                f"offer {offer.name}: amount {offer.amount:g} is not below threshold {offer.threshold:g}"
            )
        if not offer.validity_days:
            raise BadInput(f"offer {offer.name}: a coupon needs --validity (days): coupons must expire")
    if offer.kind == "points" and (offer.multiplier is None or offer.multiplier <= 0):
        raise BadInput(f"offer {offer.name}: a points offer needs --multiplier above 0")
    if offer.kind == "trial" and not (offer.trial_days or offer.validity_days):
        raise BadInput(f"offer {offer.name}: a trial needs --trial-days")
    if offer.validity_days is not None and offer.validity_days <= 0:
        raise BadInput(f"offer {offer.name}: validity must be at least 1 day")


def add(db: sqlite_utils.Database, offer: Offer, *, layers: list[str] | None = None,
        replace: bool = False) -> Offer:
    """Save an offer (and map it to *layers*) in one transaction; refuses a duplicate name unless *replace*."""
    validate(offer)
    now = now_ts()
    values = {k: v for k, v in asdict(offer).items() if k not in ("id", "retired_at")}
    with immediate(db):
        existing = db.execute("SELECT id, retired_at FROM offers WHERE name = ?", [offer.name]).fetchone()
        if existing and existing[1] is not None:
            raise BadInput(f"offer {offer.name!r} is retired: it stays as it was for the campaigns that used it; "
                           "give the new offer another name")
        if existing and not replace:
            raise BadInput(f"offer {offer.name!r} already exists (use --replace to change it)")
        if existing:
            sets = ", ".join(f"{k} = ?" for k in values)
            db.execute(f"UPDATE offers SET {sets}, updated_at = ? WHERE id = ?",
                       [*values.values(), now, existing[0]])
            offer_id: int = existing[0]
        else:
            cols = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            cur = db.execute(f"INSERT INTO offers ({cols}, created_at, updated_at) VALUES ({marks}, ?, ?)",
                             [*values.values(), now, now])
            assert cur.lastrowid is not None  # always set after a one-row INSERT into a rowid table
            offer_id = cur.lastrowid
        offer.id = offer_id
        for layer in layers or []:
            _map(db, layer, offer_id, now)
        audit.record(db, "offer.replace" if existing else "offer.add", offer=offer.name,
                     summary=offer.summary(), layers=layers or [])
    return offer


def _map(db: sqlite_utils.Database, layer: str, offer_id: int, now: int) -> None:
    db.execute(
        "INSERT INTO offer_layers (layer, offer_id, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(layer) DO UPDATE SET offer_id = excluded.offer_id, updated_at = excluded.updated_at",
        [layer, offer_id, now],
    )


def map_layer(db: sqlite_utils.Database, layer: str, offer_name: str | None) -> None:
    """Give *layer* its offer (None removes the mapping)."""
    with immediate(db):
        if offer_name is None:
            db.execute("DELETE FROM offer_layers WHERE layer = ?", [layer])
            audit.record(db, "offer.unmap", layer=layer)
            return
        offer = get_active(db, offer_name)
        assert offer.id is not None  # read from its row
        _map(db, layer, offer.id, now_ts())
        audit.record(db, "offer.map", layer=layer, offer=offer.name)


def get(db: sqlite_utils.Database, name: str) -> Offer:
    """The offer called *name* (NotFound otherwise)."""
    rows = list(db.query(f"SELECT {', '.join(_COLUMNS)} FROM offers WHERE name = ?", [name]))
    if not rows:
        known = [r["name"] for r in db.query("SELECT name FROM offers ORDER BY name LIMIT 10")]
        hint = f"; known: {', '.join(known)}" if known else "; add one with `winback offers add`"
        raise NotFound(f"no offer named {name!r}{hint}")
    return _from_row(rows[0])


def get_active(db: sqlite_utils.Database, name: str) -> Offer:
    """The offer called *name* for a new use (a campaign, a program step, a layer): a retired one is refused."""
    offer = get(db, name)
    if offer.retired_at is not None:
        raise BadInput(f"offer {name!r} is retired: campaigns that used it keep it, new ones cannot; choose "
                       "another (`winback offers list`)")
    return offer


def mapped_layers(db: sqlite_utils.Database, name: str) -> list[str]:
    """The layers whose mapping gives them the offer called *name* (NotFound for no such offer)."""
    offer = get(db, name)
    return [r[0] for r in db.execute("SELECT layer FROM offer_layers WHERE offer_id = ? ORDER BY layer",
                                     [offer.id]).fetchall()]


class Retired(TypedDict):
    offer: str
    retired_at: int
    unmapped: list[str]        # the layers it was taken off


def retire(db: sqlite_utils.Database, name: str, *, unmap: bool = False) -> Retired:
    """Retire the offer called *name*: kept for the campaigns and sends that used it, no longer offered for new
    ones. Mapped to layers, it is refused unless *unmap*, which takes it off those layers in the same transaction
    (their users then get no offer from a by-layer campaign until another is mapped)."""
    with immediate(db):
        offer = get(db, name)
        if offer.retired_at is not None:
            raise BadInput(f"offer {name!r} is already retired")
        layers = mapped_layers(db, name)
        if layers and not unmap:
            raise BadInput(f"offer {name!r} is mapped to {len(layers)} layer{'s' if len(layers) != 1 else ''} "
                           f"({', '.join(layers)}): retiring it takes it off them, so their users get no offer in "
                           "by-layer campaigns; map another first, or pass --unmap to retire it and remove the "
                           "mapping")
        now = now_ts()
        db.execute("DELETE FROM offer_layers WHERE offer_id = ?", [offer.id])
        db.execute("UPDATE offers SET retired_at = ?, updated_at = ? WHERE id = ?", [now, now, offer.id])
        audit.record(db, "offer.retire", offer=name, unmapped=layers)
    return {"offer": name, "retired_at": now, "unmapped": layers}


def get_by_id(db: sqlite_utils.Database, offer_id: int) -> Offer:
    rows = list(db.query(f"SELECT {', '.join(_COLUMNS)} FROM offers WHERE id = ?", [offer_id]))
    if not rows:
        raise NotFound(f"no offer with id {offer_id}")
    return _from_row(rows[0])


def for_layer(db: sqlite_utils.Database, layer: str | None) -> Offer | None:
    """The offer mapped to *layer*, or None when the layer has none."""
    if layer is None:
        return None
    rows = list(db.query(
        f"SELECT {', '.join('o.' + c for c in _COLUMNS)} FROM offer_layers m JOIN offers o ON o.id = m.offer_id "
        "WHERE m.layer = ?", [layer]))
    return _from_row(rows[0]) if rows else None


def layer_map(db: sqlite_utils.Database) -> dict[str, Offer]:
    """Every layer → offer mapping, read once (for rendering a whole audience)."""
    rows = db.query(
        f"SELECT m.layer AS layer, {', '.join('o.' + c for c in _COLUMNS)} "
        "FROM offer_layers m JOIN offers o ON o.id = m.offer_id")
    return {r.pop("layer"): _from_row(r) for r in rows}


class OfferRow(TypedDict):
    """One offer as `winback offers list` shows it: its fields (not the description), layers and state."""

    name: str
    kind: str
    threshold: float | None
    amount: float | None
    currency: str | None
    validity_days: int | None
    multiplier: float | None
    trial_days: int | None
    id: int | None
    retired_at: int | None
    layers: str                # the layers mapped to it, comma-separated
    summary: str               # Offer.summary()
    state: str                 # active | retired


def list_offers(db: sqlite_utils.Database) -> list[OfferRow]:
    """Offers with their layers and state (`active`, or `retired` — still listed: campaigns name them), for
    `winback offers list`; the active ones first."""
    layers: dict[int, list[str]] = {}
    for r in db.query("SELECT layer, offer_id FROM offer_layers ORDER BY layer"):
        layers.setdefault(r["offer_id"], []).append(r["layer"])
    out: list[OfferRow] = []
    for r in db.query(f"SELECT {', '.join(_COLUMNS)} FROM offers ORDER BY retired_at IS NOT NULL, name"):
        o = _from_row(r)
        out.append({"name": o.name, "kind": o.kind, "threshold": o.threshold, "amount": o.amount,
                    "currency": o.currency, "validity_days": o.validity_days, "multiplier": o.multiplier,
                    "trial_days": o.trial_days, "id": o.id, "retired_at": o.retired_at,
                    "layers": ", ".join(layers.get(r["id"], [])), "summary": o.summary(),
                    "state": "active" if o.retired_at is None else "retired"})
    return out
