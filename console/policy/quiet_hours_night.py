"""A sending window that lies at night: almost always a quiet span typed the wrong way round.

`winback quiet-hours set` takes the *quiet* span (20:00-08:00) and winback.toml's [quiet_hours] the *sending*
window (start = "08:00", end = "20:00"): an operator who types one in the other's sense sends marketing only at
night, which carriers and customers punish. A window is taken as night-time when it leaves out noon, or when most
of it lies between 20:00 and 08:00. `set` refuses it unless confirmed; the file's window is warned about (a file
that worked must keep working).
"""

from __future__ import annotations

from console.config import Config, setting_place

NOON = 12 * 3600
NIGHT_FROM, NIGHT_UNTIL = 20 * 3600, 8 * 3600
CONFIRM_FLAG = "--yes-at-night"


def _allows(start: int, end: int, seconds: int) -> bool:
    """Whether the sending window [start, end) (local seconds after midnight; it may wrap) holds *seconds*."""
    if start < end:
        return start <= seconds < end
    return seconds >= start or seconds < end


def night_only(start: int, end: int) -> bool:
    """Whether the sending window [start, end) leaves out noon, or lies mostly between 20:00 and 08:00."""
    if not _allows(start, end, NOON):
        return True
    minutes = [m * 60 for m in range(24 * 60) if _allows(start, end, m * 60)]
    night = sum(1 for s in minutes if s >= NIGHT_FROM or s < NIGHT_UNTIL)
    return night * 2 > len(minutes)


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def set_refusal(start: int, end: int) -> str:
    """Why `winback quiet-hours set` refuses the quiet span that leaves the sending window [start, end)."""
    quiet, sending = f"{_clock(end)}-{_clock(start)}", f"{_clock(start)}-{_clock(end)}"
    return (f"quiet hours {quiet} were understood as: no marketing sends from {_clock(end)} to {_clock(start)}, so "
            f"the sending window would be {sending} — marketing only at night. `set` takes the quiet span (when "
            f"NOT to send): for sending from {_clock(end)} to {_clock(start)} type `winback quiet-hours set "
            f"{sending}`; to send at night after all, add {CONFIRM_FLAG}. Nothing was changed.")


def config_warning(config: Config, start: int, end: int) -> str:
    """The warning for winback.toml's [quiet_hours] whose start/end leave a night-time sending window."""
    place = setting_place(config, "quiet_hours", "start")
    return (f"warning: {place}: [quiet_hours] start = \"{_clock(start)}\", end = \"{_clock(end)}\" is the sending "
            f"window: marketing goes out only from {_clock(start)} to {_clock(end)}, at night. start is when sending "
            f"may start and end when it must stop: for sending by day write start = \"{_clock(end)}\", "
            f"end = \"{_clock(start)}\" (or leave it, if night is meant).")
