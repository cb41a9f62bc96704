"""The console's areas (Textual modes, one per NAV_KEYS entry in screens.base) and the screen class of each.

Read by the app, which adds one mode per area, and by screens.keys, which lists every binding id; kept apart
from the app so that neither needs to import the other's module.
"""

from __future__ import annotations

from textual.screen import Screen

from screens.audit import AuditScreen
from screens.campaigns import CampaignsScreen
from screens.deliveries import DeliveriesScreen
from screens.messages import MessagesScreen
from screens.offers import OffersScreen
from screens.overview import OverviewScreen
from screens.policy import PolicyScreen
from screens.programs import ProgramsScreen
from screens.propensity import ModelScreen
from screens.segments import SegmentsScreen


def area_screens() -> dict[str, type[Screen]]:
    """Area name → its screen class, in the order of the navigation keys."""
    return {
        "overview": OverviewScreen,
        "segments": SegmentsScreen,
        "messages": MessagesScreen,
        "campaigns": CampaignsScreen,
        "policy": PolicyScreen,
        "deliveries": DeliveriesScreen,
        "audit": AuditScreen,
        "model": ModelScreen,
        "offers": OffersScreen,
        "programs": ProgramsScreen,
    }
