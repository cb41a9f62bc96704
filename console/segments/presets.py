"""The preset segments: one per dormancy state and one per layer, created on setup and kept in step.
"""

from __future__ import annotations

import sqlite_utils

from console import dormancy, layers
from console.config import Config
from console.segments import rules
from console.segments.saved import create

PRESET_STATE_NAMES = {"active": "active", "at_risk": "at-risk", "dormant": "dormant", "lost": "lost",
                      "never_active": "never-active"}


def preset_definitions(config: Config) -> list[tuple[str, str, str]]:
    """(name, rule text, description) of the preset segments: one per dormancy state and per layer."""
    d = dormancy.settings(config)
    what = {"order": "an order", "visit": "a visit", "login": "a login", "any": "any activity"}[d.metric]
    described = {
        "active": f"{what} in the last {d.at_risk_days} days",
        "at_risk": f"{d.at_risk_days}-{d.dormant_days - 1} days without {what}",
        "dormant": f"{d.dormant_days}-{d.lost_days - 1} days without {what}",
        "lost": f"{d.lost_days} days or more without {what}",
        "never_active": f"never {'ordered' if d.metric == 'order' else 'active'}",
    }
    out = [(PRESET_STATE_NAMES[s], f"dormancy = {s}", f"Preset: {described[s]}") for s in dormancy.STATES]
    lay = layers.settings(config)
    for t in lay.temperature_names:
        for lo in lay.loyalty_names:
            layer = f"{t} {lo}"
            out.append((layer.replace(" ", "-"), f"layer = {rules._value_text(layer)}",
                        f"Preset: layer {layer} (temperature × loyalty)"))
    return out


def ensure_presets(db: sqlite_utils.Database, config: Config) -> list[str]:
    """Create the preset segments that are missing (never overwrites an operator's edits); returns those made."""
    made = []
    existing = {r[0] for r in db.execute("SELECT name FROM segments").fetchall()}
    for name, rule_text, description in preset_definitions(config):
        if name not in existing:
            create(db, name, rule_text, description, preset=True)
            made.append(name)
    return made
