"""Contact policy: who may be messaged, on which channel, and when.

consent · suppression · optout (is a reply an opt-out?) · caps (frequency) · quiet_hours · budget — each usable
alone — and engine.evaluate (all of them, set-based, for a whole batch) and explain.explain (one user, in words).
See docs/policy.md. Reason codes are those of the send ledger (docs/architecture.md "The send pipeline").
"""
