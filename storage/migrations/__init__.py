"""Versioned schema migrations: the only way the schema changes.

Each step lives in its own module (mNNN_*.py) and registers itself on MIGRATIONS; the import order below is
the order they apply in. Never edit a step that has shipped: add a new one.
"""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("winback")

# Import order is apply order.
from storage.migrations import (  # noqa: E402,F401
    m001_foundation,
    m002_profiles_segments,
    m003_policy,
    m004_messages,
    m005_campaigns,
    m006_inbound,
    m007_propensity,
    m009_optout_journal,
    m010_send_handoff,
    m012_uplift,
    m013_programs,
    m014_rec_pairs,
    m015_offer_retired,
    m016_no_personalised,
    m017_program_budget,
    m018_simulated_campaign,
    m019_scheduled_real,
    m020_confirmation_total,
    m021_push_token_attribute,
)


def known_migration_names() -> set[str]:
    return {m.name for m in MIGRATIONS._migrations}
