"""Masks on screen (PIPL Art. 51): every channel whose address is a phone masks it as a phone."""

from __future__ import annotations

import pytest

from console.channel_names import ADDRESS_COLUMN
from console.privacy import mask_address, mask_email, mask_name


@pytest.mark.parametrize("channel", [c for c, column in ADDRESS_COLUMN.items() if column == "phone"])
def test_a_phone_is_masked_as_a_phone_on_every_channel_that_sends_to_it(channel):
    # a gift list goes to the phone too; it was shown as '+861…' (the first four characters)
    assert mask_address(channel, "+8613712341935") == "137****1935"


def test_email_name_and_push_masks():
    assert mask_address("email", "david.wang@example.com") == "d****@example.com" == mask_email("david.wang@example.com")
    assert mask_address("push", "tok-abcdef") == "tok-…"
    assert mask_name("刘德华") == "刘**" and mask_name("David") == "D**"
