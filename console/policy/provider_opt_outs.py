"""A provider's refusal that says the recipient opted out at the provider: Twilio's error 21610 (they replied STOP
to a Twilio number, and Twilio will not text them until they reply START). Such a refusal is recorded as an opt-out,
as an inbound STOP is (console.policy.suppression_entries.record_opt_out), so no later campaign tries them again;
recorded only as `failed`, every campaign would. Read from the send answer (console.campaigns.record) and from a
status callback that fails the message with it (console.inbound.apply: a Messaging Service may answer 21610 so).

The channel writes the refusal's words (`sends.error`), the receipt reader its detail; this reads them back, so no
new field has to travel from the channel to the dispatcher.
"""

from __future__ import annotations

import re

# console.channels.twilio writes "Twilio refused (HTTP 400): code 21610: Attempt to send to unsubscribed recipient"
# and console.inbound.provider_records a status callback's "error 21610: …"
_TWILIO_UNSUBSCRIBED = re.compile(r"^(?:Twilio refused \(HTTP \d{3}\): code|error) 21610\b")


def opt_out_source(error: str | None) -> str | None:
    """The opt-out's source as the suppression list records it ('twilio 21610 …'), or None for any other error
    (a send answer's words or a receipt's detail)."""
    if error and _TWILIO_UNSUBSCRIBED.match(error):
        return "twilio 21610 (the recipient replied STOP to Twilio)"
    return None


__all__ = ["opt_out_source"]
