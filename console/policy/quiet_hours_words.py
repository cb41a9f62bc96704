"""What `winback quiet-hours show` and `campaign plan` say about where the window comes from: who set the override
in force and the way back to winback.toml's window (`quiet-hours reset`), and the warning for a winback.toml
window that leaves sending only at night."""

from __future__ import annotations

import sqlite_utils

from console import audit
from console.config import Config, ConfigError
from console.policy.quiet_hours import DEFAULT_WINDOW, config_window, window_source
from console.policy.quiet_hours_night import config_warning, night_only
from console.timefmt import local_time


def fallback_words(config: Config) -> str:
    """What applies without `quiet-hours set`'s override: winback.toml's window, else the default."""
    if not config.quiet_hours:
        return f"the default: sending {'-'.join(DEFAULT_WINDOW)}"
    try:
        window = config_window(config)
    except ConfigError:   # said when it applies; the override in force is what show is about
        return "winback.toml's [quiet_hours]"
    return "winback.toml: " + ("off" if window is None else f"sending {window.sending}")


def override_setter(db: sqlite_utils.Database) -> tuple[str, int] | None:
    """Who stored the override in force and when (epoch seconds), from the audit log; None when not audited."""
    last = audit.recent(db, limit=1, action="quiet_hours.set")
    return (str(last[0]["actor"]), int(last[0]["at"])) if last else None


def override_words(db: sqlite_utils.Database, config: Config) -> tuple[str, str]:
    """' (ana, 2026-11-25 10:00 UTC+8)': who set the override in force and when, in the workspace's zone as every
    time shown; and the line saying the way back to winback.toml's window (there was none: `set off` could only be
    undone by typing a window again)."""
    setter = override_setter(db)
    who = f" ({setter[0]}, {local_time(setter[1], config.timezone)})" if setter else ""
    return who, f"`winback quiet-hours reset` goes back to {fallback_words(config)}"


def night_window_warning(db: sqlite_utils.Database, config: Config) -> str:
    """The warning when winback.toml's [quiet_hours] in force leaves sending only at night (start/end typed as
    the quiet span), else ''. A warning, not an error: a file that worked keeps working."""
    window, source = window_source(db, config)
    if source == "winback.toml" and window is not None and night_only(window.start, window.end):
        return config_warning(config, window.start, window.end)
    return ""
