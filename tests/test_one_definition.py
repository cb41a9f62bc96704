"""Issue 16: one definition for each piece of knowledge — the user lookup by external id, `--as-of`, the channel
list and where each channel's address lives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console import channel_names, dormancy, messages, templates, timefmt, users
from console.campaigns import audience, model
from console.config import Config
from console.errors import BadInput, NotFound
from console.policy import consent
from console.programs import spec
from console.segments import fields
from tests import segments_support as hand

ROOT = Path(__file__).resolve().parent.parent


def _sources(*packages: str) -> list[Path]:
    return [p for pkg in packages for p in sorted((ROOT / pkg).rglob("*.py"))]


def test_the_user_lookup_by_external_id_is_written_once():
    # console/importing matches whole files of ids in SQL; console/people.py searches by any of several fields
    allowed = {"console/users.py", "console/people.py"}
    hits = [str(p.relative_to(ROOT)) for p in _sources("console", "screens")
            if "FROM users WHERE external_id = ?" in p.read_text(encoding="utf-8")
            and str(p.relative_to(ROOT)) not in allowed and "/importing/" not in str(p)]
    assert hits == []


def test_users_by_external_id_or_internal_id(db):
    uid = hand.add_user(db, "c-1")
    hand.add_user(db, "77")   # an external id that looks like a number wins over internal id 77
    assert users.require_user_id(db, "c-1") == uid
    assert users.user_id_by_external_id(db, "nobody") is None
    with pytest.raises(NotFound, match="no user with external id 'nobody'"):
        users.require_user_id(db, "nobody")
    assert users.find_user(db, f"#{uid}")["external_id"] == "c-1"
    assert users.find_user(db, uid)["external_id"] == "c-1"
    assert users.find_user(db, "77")["external_id"] == "77"
    with pytest.raises(NotFound, match="or #internal-id"):
        users.find_user(db, str(uid))              # bare digits are an internal id only where a command says so
    assert users.find_user(db, str(uid), bare_id=True)["external_id"] == "c-1"


def test_as_of_is_parsed_in_one_place_with_one_behaviour():
    defs = [str(p.relative_to(ROOT)) for p in _sources("console", "screens")
            if re.search(r"^def (parse_as_of|parse_cli_as_of|refuse_future)\(", p.read_text(encoding="utf-8"), re.M)]
    assert defs == ["console/timefmt.py"]
    shanghai = timefmt.parse_as_of("2026-11-24", "Asia/Shanghai")
    assert shanghai == timefmt.parse_as_of("2026-11-24T23:59:59", "Asia/Shanghai")
    assert timefmt.parse_as_of("2026-11-24T15:59:59Z", None) == shanghai
    with pytest.raises(BadInput, match="give a date like 2026-11-25"):
        timefmt.parse_as_of("yesterday", "Asia/Shanghai")
    now = timefmt.parse_as_of("2026-11-25T10:00", "Asia/Shanghai")
    assert timefmt.cli_as_of("2026-11-25", "Asia/Shanghai", now) > now           # today is fine
    with pytest.raises(BadInput, match="is in the future"):
        timefmt.cli_as_of("2026-11-26", "Asia/Shanghai", now)


@pytest.mark.parametrize("args", [("refresh", "--as-of", "yesterday"), ("model", "fit", "--as-of", "yesterday")])
def test_every_as_of_option_says_the_same_about_a_bad_value(cli, args):
    result = cli(*args)
    assert result.exit_code == 2
    assert "--as-of 'yesterday': give a date like 2026-11-25 or a time like 2026-11-25T09:00" in " ".join(result.output.split())


def test_the_dead_state_of_is_gone():
    assert not hasattr(dormancy, "state_of")


def test_one_channel_list():
    for where in (model.CHANNELS, templates.CHANNELS, consent.CHANNELS, spec.CHANNELS, fields.CONSENT_CHANNELS):
        assert where is channel_names.CHANNELS
    literal = re.compile(r"\(\s*\"sms\",\s*\"email\",\s*\"push\",\s*\"call\",\s*\"gift\"\s*\)")
    hits = [str(p.relative_to(ROOT)) for p in _sources("console", "screens")
            if literal.search(p.read_text(encoding="utf-8")) and p.name != "channel_names.py"]
    assert hits == []


def test_a_gift_preview_shows_the_phone_the_freeze_records(db):
    """The renderer and the freeze read a channel's address from the same map: a gift goes to the user's phone
    (the preview used to say no address at all, while the ledger froze the phone)."""
    assert messages.ADDRESS_COLUMN is audience.ADDRESS_COLUMN is channel_names.ADDRESS_COLUMN
    hand.add_user(db, "g-1", name="Lin", phone="+8613800000001")
    toml = 'name = "thanks"\nchannel = "gift"\nbody = "a gift"\nfields = ["user.name"]\n'
    templates.save(db, templates.parse_toml(toml, "t.toml"), Config())
    msg, _ = messages.preview(db, Config(), "thanks", "g-1")
    assert msg.to == "+8613800000001"
