"""Campaigns: model (create, get, list), plan (pre-flight funnel), freeze (audience into the ledger), dispatch
(claim → send → record), control (launch, pause, resume, cancel, run-due) and tallies. See docs/campaigns.md.

The CLI and the console call these same functions.
"""
