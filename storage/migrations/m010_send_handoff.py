"""The send loop's hand-off record (issue #19, points 2, 6 and 8).

- `sends.handed_at`: set (and committed) immediately before a claimed row's request leaves for the provider. After
  a crash a claimed row without it certainly never left — recovery puts it back to `planned`; only rows with it
  (requests really in flight, at most the channel's concurrency per dispatcher) become `unknown`.
- `channel_pacing.wait_until` / `wait_reason`: a provider asked us (HTTP Retry-After) to stay away for longer than
  the channel's max_backoff. No dispatcher calls the channel again before then; campaigns on it wait, like
  quiet-hours deferrals (seconds on the winback clock, console.clock.now_ts).
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m010_send_handoff")
def m010_send_handoff(db) -> None:
    db.execute("ALTER TABLE sends ADD COLUMN handed_at INTEGER")
    # claims made before this step may already be with the provider: treat them as handed (unknown if lost)
    db.execute("UPDATE sends SET handed_at = claimed_at WHERE status = 'claimed'")
    db.execute("ALTER TABLE channel_pacing ADD COLUMN wait_until INTEGER")
    db.execute("ALTER TABLE channel_pacing ADD COLUMN wait_reason TEXT")
