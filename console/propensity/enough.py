"""Whether there is enough order history to fit a model, and what to tell the operator when there is not."""

from __future__ import annotations

import numpy as np

from console.errors import WinbackError
from console.propensity.summary import Summary

# Below these the maximum likelihood estimates swing with a handful of customers: refuse rather than score
# everyone from noise. Four parameters per model; ten repeat buyers per parameter is a common floor.
MIN_CUSTOMERS = 100
MIN_REPEATERS = 40
MIN_SPENDERS = 20     # Gamma-Gamma: repeat buyers with order amounts


class TooThin(WinbackError):
    """Not enough order history to fit a model."""


def check_enough(s: Summary, *, what: str = "order history") -> None:
    """Raise TooThin with what is missing and what to do about it."""
    if s.customers >= MIN_CUSTOMERS and s.repeaters >= MIN_REPEATERS and float(np.max(s.T, initial=0)) > 0:
        return
    raise TooThin(
        f"too little {what} to fit a model: {s.customers:,} customers have ordered and {s.repeaters:,} of "
        f"them on more than one day; at least {MIN_CUSTOMERS:,} customers and {MIN_REPEATERS:,} repeat buyers "
        f"are needed. Import more order events (winback import events FILE --kind order), or wait for more "
        f"history."
    )
