"""Quiet hours: deferrals land inside the sending window — the earliest moment that is — across daylight-saving
changes and zones with 30- and 45-minute offsets; the recipient's zone is their own, else their phone's, else the
workspace's; several candidate zones mean the strictest reading."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.config import Config
from console.policy import quiet_hours as qh
from console.policy.engine import evaluate
from tests.policy_support import add_user, ts

ZONES = [
    "Asia/Kolkata",          # +05:30
    "Asia/Kathmandu",        # +05:45
    "Australia/Lord_Howe",   # +10:30 / +11:00: a 30-minute daylight-saving shift
    "America/New_York",
    "America/St_Johns",      # -03:30 / -02:30
    "Australia/Adelaide",    # +09:30 / +10:30
    "Pacific/Chatham",       # +12:45 / +13:45
    "Europe/London",
    "Asia/Shanghai",
    "America/Santiago",
]

# Moments near daylight-saving changes (both hemispheres) and ordinary days; hypothesis adds up to ±3 days.
BASES = [ts(x) for x in (
    "2026-03-08 06:00", "2026-11-01 05:00",   # New York, St John's
    "2026-03-29 00:30", "2026-10-25 00:30",   # London
    "2026-04-04 15:00", "2026-10-03 15:30",   # Lord Howe, Adelaide (local early Sunday)
    "2026-04-04 14:00", "2026-09-26 14:00",   # Chatham
    "2026-04-05 03:00", "2026-09-06 04:00",   # Santiago
    "2026-06-15 12:00", "2026-01-10 00:00",
)]

quarter_hours = st.integers(min_value=0, max_value=95).map(lambda q: q * 900)


@st.composite
def windows(draw) -> qh.Window:
    start = draw(quarter_hours)
    end = draw(quarter_hours.filter(lambda e: e != start))
    return qh.Window(start=start, end=end)


def allowed_everywhere(t: int, zones, window: qh.Window) -> bool:
    return all(window.allows(t, qh.zone(z)) for z in zones)


def brute_force(at: int, zones, window: qh.Window) -> int | None:
    """The first allowed moment by walking minute by minute (every boundary is on a whole minute)."""
    if allowed_everywhere(at, zones, window):
        return at
    t = (at // 60 + 1) * 60
    while t <= at + qh.HORIZON_DAYS * 86400:
        if allowed_everywhere(t, zones, window):
            return t
        t += 60
    return None


@settings(max_examples=150, deadline=None)
@given(zone=st.sampled_from(ZONES), window=windows(), base=st.sampled_from(BASES),
       shift=st.integers(min_value=-3 * 86400, max_value=3 * 86400))
def test_a_deferral_is_the_first_moment_inside_the_window_in_one_zone(zone, window, base, shift):
    at = base + shift
    t = qh.next_allowed(at, (zone,), window)
    assert t >= at
    assert window.allows(t, qh.zone(zone))
    if t > at:
        assert not window.allows(t - 1, qh.zone(zone))  # nothing earlier would do
    assert t == brute_force(at, (zone,), window)
    assert t - at <= 2 * 86400  # a daily window recurs within two days, daylight saving or not


@settings(max_examples=60, deadline=None)
@given(zones=st.lists(st.sampled_from(ZONES), min_size=2, max_size=3, unique=True), window=windows(),
       base=st.sampled_from(BASES), shift=st.integers(min_value=-3 * 86400, max_value=3 * 86400))
def test_several_candidate_zones_take_the_strictest_reading_and_never_drop(zones, window, base, shift):
    at = base + shift
    t = qh.next_allowed(at, tuple(zones), window, prefer=zones[-1])
    expected = brute_force(at, zones, window)
    if expected is not None:
        assert t == expected and allowed_everywhere(t, zones, window)
    else:
        # No shared moment (zones half a world apart, narrow window): the preferred zone alone decides.
        assert t == qh.next_allowed(at, (zones[-1],), window) and window.allows(t, qh.zone(zones[-1]))


def test_new_york_spring_forward_gap_defers_to_the_first_existing_minute():
    # Sending window opens at 02:30, which does not exist on 2026-03-08 in New York (02:00 → 03:00).
    window = qh.Window(start=qh.parse_clock("02:30"), end=qh.parse_clock("20:00"))
    at = ts("2026-03-08 01:30", "America/New_York")
    t = qh.next_allowed(at, ("America/New_York",), window)
    assert datetime.fromtimestamp(t, qh.zone("America/New_York")).strftime("%H:%M %z") == "03:00 -0400"
    assert t - at == 30 * 60  # 01:30 EST to 03:00 EDT is half an hour


def test_lord_howe_half_hour_fall_back_reopens_the_window_when_the_clock_jumps_back_into_it():
    window = qh.parse_quiet_span("01:45-08:00")  # sending 08:00–01:45
    # 2026-04-05 02:00 +11:00 becomes 01:30 +10:30: 01:30–02:00 happens twice; the window ends 01:45.
    at = ts("2026-04-04 14:50")  # 01:50 local, first pass (+11:00): quiet
    tz = qh.zone("Australia/Lord_Howe")
    t = qh.next_allowed(at, ("Australia/Lord_Howe",), window)
    # Ten minutes later the clock reads 01:30 again: inside the window, at the transition itself.
    assert datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M %z") == "2026-04-05 01:30 +1030"
    assert t - at == 10 * 60
    # From 01:50 on the second pass, the next opening is 08:00 the same morning.
    later = qh.next_allowed(t + 20 * 60, ("Australia/Lord_Howe",), window)
    assert datetime.fromtimestamp(later, tz).strftime("%Y-%m-%d %H:%M %z") == "2026-04-05 08:00 +1030"


def test_kathmandu_and_kolkata_clock_offsets():
    window = qh.parse_quiet_span("20:00-08:00")
    at = ts("2026-11-25 02:00")  # 07:30 in Kolkata, 07:45 in Kathmandu
    assert qh.next_allowed(at, ("Asia/Kolkata",), window) - at == 30 * 60
    assert qh.next_allowed(at, ("Asia/Kathmandu",), window) - at == 15 * 60
    assert qh.next_allowed(at, ("Asia/Kolkata", "Asia/Kathmandu"), window) - at == 30 * 60


def test_the_recipients_zone_is_their_own_else_their_phones_else_the_workspaces():
    config = Config(timezone="Europe/Berlin")
    assert qh.recipient_zones("Asia/Kathmandu", "+8613800000000", config) == (("Asia/Kathmandu",), "user")
    assert qh.recipient_zones(None, "+919812345678", config) == (("Asia/Calcutta",), "phone")
    assert qh.recipient_zones(None, "+12125550123", config) == (("America/New_York",), "phone")
    assert qh.recipient_zones("Not/AZone", None, config) == (("Europe/Berlin",), "workspace")
    zones, source = qh.recipient_zones(None, "+79161234567", config)  # a Russian mobile: any of many zones
    assert source == "phone" and len(zones) > 5


def test_set_based_deferral_groups_users_by_zone(db, workspace):
    at = ts("2026-11-25 13:00")  # 21:00 Shanghai, 18:30 Kolkata, 08:00 New York, 13:00 London
    add_user(db, "cn", phone="+8613800000001")
    add_user(db, "in", phone="+919812345678")
    add_user(db, "ny", phone="+12125550123")
    add_user(db, "own", phone="+8613800000002", timezone="Europe/London")
    add_user(db, "ru", phone="+79161234567")  # Moscow 16:00 … Kamchatka 01:00: strictest waits
    add_user(db, "nophone-tz", phone="+8613800000003", timezone="Bogus/Zone")  # bad zone: phone decides
    result = evaluate(db, workspace.config, channel="sms", audience="SELECT id AS user_id FROM users", at=at)
    ext = {r["id"]: r["external_id"] for r in db.query("SELECT id, external_id FROM users")}
    got = {ext[u]: (reason, d) for u, (reason, d) in result.by_user().items()}
    assert got["cn"] == ("quiet_hours", ts("2026-11-26 08:00", "Asia/Shanghai"))
    assert got["nophone-tz"] == got["cn"]
    assert got["in"] == (None, None) and got["ny"] == (None, None) and got["own"] == (None, None)
    ru_reason, ru_until = got["ru"]
    ru_zones = qh.zones_for_phone("+79161234567")
    assert ru_reason == "quiet_hours"
    assert ru_until == qh.next_allowed(at, ru_zones, qh.parse_quiet_span("20:00-08:00"), prefer="Asia/Shanghai")
    assert result.counts == {"ok": 3, "quiet_hours": 3}


def test_channel_without_quiet_hours_and_quiet_hours_off(db, workspace, tmp_path, cli):
    add_user(db, "cn", phone="+8613800000001")
    night = ts("2026-11-25 23:00", "Asia/Shanghai")
    config = Config(channels={"sms": {"quiet_hours": False}})
    assert evaluate(db, config, channel="sms", audience="SELECT id AS user_id FROM users", at=night).admitted == 1
    assert evaluate(db, workspace.config, channel="sms", audience="SELECT id AS user_id FROM users",
                    at=night).counts == {"quiet_hours": 1}
    assert cli("quiet-hours", "set", "off").exit_code == 0
    assert evaluate(db, workspace.config, channel="sms", audience="SELECT id AS user_id FROM users",
                    at=night).admitted == 1


def test_quiet_hours_cli_takes_the_quiet_span_and_shows_both(cli):
    shown = json.loads(cli("quiet-hours", "show", "--json").stdout)
    assert (shown["quiet"], shown["sending_window"], shown["set_by"]) == ("20:00-08:00", "08:00-20:00", "default")
    assert cli("quiet-hours", "set", "21:30-07:45").exit_code == 0
    out = cli("quiet-hours", "show").stdout
    assert "21:30-07:45" in out and "sending window 07:45-21:30" in out
    assert max(len(line) for line in out.splitlines()) <= 80            # short lines, no terminal wrapping
    for bad in ("21:30", "25:00-08:00", "08:00-08:00", "evening"):
        result = cli("quiet-hours", "set", bad)
        assert result.exit_code == 2, bad
    assert json.loads(cli("quiet-hours", "show", "--json").stdout)["quiet"] == "21:30-07:45"  # unchanged


@pytest.mark.parametrize("text", ["20:00-08:00", "22:00-06:30", "00:00-07:00"])
def test_quiet_span_and_sending_window_are_complements(text):
    window = qh.parse_quiet_span(text)
    quiet_start, quiet_end = (qh.parse_clock(x) for x in text.split("-"))
    utc = qh.zone("UTC")
    day = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    for minute in range(0, 1440, 15):
        second = minute * 60
        in_quiet = (quiet_start <= second < quiet_end) if quiet_start < quiet_end else (
            second >= quiet_start or second < quiet_end)
        assert window.allows(day + second, utc) is (not in_quiet)


def test_the_sending_window_from_winback_toml_until_the_cli_sets_one(cli, tmp_path):
    (tmp_path / "winback.toml").write_text('[quiet_hours]\nstart = "09:00"\nend = "21:00"\n', encoding="utf-8")
    shown = json.loads(cli("quiet-hours", "show", "--json").stdout)
    assert (shown["quiet"], shown["sending_window"], shown["set_by"]) == ("21:00-09:00", "09:00-21:00", "winback.toml")
    assert cli("quiet-hours", "set", "22:00-08:00").exit_code == 0  # the CLI's setting wins over the file
    assert json.loads(cli("quiet-hours", "show", "--json").stdout)["set_by"] == "winback quiet-hours set"


def test_quiet_hours_off_is_a_subcommand_too(cli):
    # PRODUCT.md: `winback quiet-hours show|set 20:00-08:00|off`.
    assert cli("quiet-hours", "set", "21:00-08:00").exit_code == 0
    result = cli("quiet-hours", "off")
    assert result.exit_code == 0 and "quiet hours off" in result.stderr
    assert json.loads(cli("quiet-hours", "show", "--json").stdout)["off"] is True
