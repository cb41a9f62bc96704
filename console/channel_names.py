"""The channels winback knows, and where each one's address lives on a user: one definition for the campaign
model, templates, consent, segments, programs, the renderer and the freeze.

A gift is sent to the user's phone (the gift list carries it, and a user without a phone is skipped at the
freeze: no address); policy matches suppressions for gifts by user only (console.policy.engine.ADDRESS_SQL).
"""

from __future__ import annotations

CHANNELS = ("sms", "email", "push", "call", "gift")

# users column holding each channel's address (sends.address is frozen from it)
ADDRESS_COLUMN = {"sms": "phone", "call": "phone", "gift": "phone", "email": "email", "push": "push_token"}

# Mainland China's country code: the numbers an Aliyun/Tencent mainland template reaches (and Aliyun bills by receipt)
MAINLAND = "+86"
