"""Recall programs (issue #14): a stepped win-back ladder run as a system.

- `programs`: the program as the operator wrote it (the TOML text is kept; its parsed fields are columns).
- `program_steps`: its steps, in order (wait after the previous step's due time, channels, templates, `only` rule).
- `program_entries`: one row per time a user enters a program: the control flag (by hash, fixed at entry), the
  next step to take and when it is due, and the state (active until the user returned, opted out, became
  unreachable, finished the ladder, or the program was stopped).
- `program_moves`: one row per (entry, step) — the step taken (sent into the ledger, or holdout for control) or
  skipped with a reason. Its primary key is what makes "never twice" hold: a step is written once per entry, in
  the same transaction as the ledger rows of that step's run.
- `campaigns.program_id` / `program_step`: each (step, channel) is backed by an internal campaign whose runs carry
  the step's messages through the one send pipeline (consent, suppression, caps, quiet hours, budget, brakes,
  the at-most-once ledger).
"""

from storage.migrations import MIGRATIONS


@MIGRATIONS(name="m013_programs")
def m013_programs(db) -> None:
    db.execute(
        """
        CREATE TABLE programs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,               -- the TOML as added
            file TEXT,                          -- where it was added from
            entry TEXT NOT NULL,                -- a rule, or a segment name
            control_pct REAL NOT NULL DEFAULT 0,
            exit_on TEXT NOT NULL DEFAULT '["order"]',   -- JSON list of event kinds
            reentry_days INTEGER,               -- NULL: a user enters once
            status TEXT NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft','running','paused','stopped')),
            dry_run INTEGER NOT NULL DEFAULT 1, -- the mode it runs in (entries are per mode)
            salt TEXT NOT NULL,                 -- fixes the control group by hash
            created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            started_at INTEGER,
            stopped_at INTEGER,
            last_run_at INTEGER
        )
        """
    )
    db.execute(
        """
        CREATE TABLE program_steps (
            program_id INTEGER NOT NULL REFERENCES programs(id),
            step INTEGER NOT NULL,              -- 0-based position
            name TEXT NOT NULL,
            wait_days INTEGER NOT NULL,         -- after entry (first step) or the previous step's due time
            channels TEXT NOT NULL,             -- JSON list, in preference order
            templates TEXT NOT NULL,            -- JSON object channel -> template
            offer TEXT,
            offer_by_layer INTEGER NOT NULL DEFAULT 0,
            only_rule TEXT,
            PRIMARY KEY (program_id, step),
            UNIQUE (program_id, name)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE program_entries (
            id INTEGER PRIMARY KEY,
            program_id INTEGER NOT NULL REFERENCES programs(id),
            user_id INTEGER NOT NULL REFERENCES users(id),
            dry_run INTEGER NOT NULL,
            entered_at INTEGER NOT NULL,
            control INTEGER NOT NULL,           -- held out of the whole program (by hash): rows recorded holdout
            step INTEGER NOT NULL DEFAULT 0,    -- the next step to take
            next_due_at INTEGER,                -- when it is due; NULL once the entry has left
            state TEXT NOT NULL DEFAULT 'active'
                CHECK (state IN ('active','returned','opted_out','unreachable','finished','stopped')),
            left_at INTEGER,
            left_reason TEXT
        )
        """
    )
    # one active entry per user, program and mode
    db.execute("CREATE UNIQUE INDEX program_entries_active ON program_entries(program_id, dry_run, user_id) "
               "WHERE state = 'active'")
    db.execute("CREATE INDEX program_entries_due ON program_entries(program_id, dry_run, state, next_due_at)")
    db.execute("CREATE INDEX program_entries_user ON program_entries(user_id, program_id)")
    db.execute(
        """
        CREATE TABLE program_moves (
            entry_id INTEGER NOT NULL REFERENCES program_entries(id),
            step INTEGER NOT NULL,
            at INTEGER NOT NULL,                -- the run that took it
            due_at INTEGER NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('queued','holdout','skipped')),
            reason TEXT,                        -- why skipped (only, ...)
            channel TEXT,
            campaign_id INTEGER REFERENCES campaigns(id),
            run INTEGER,
            PRIMARY KEY (entry_id, step)
        ) WITHOUT ROWID
        """
    )
    db.execute("ALTER TABLE campaigns ADD COLUMN program_id INTEGER REFERENCES programs(id)")
    db.execute("ALTER TABLE campaigns ADD COLUMN program_step INTEGER")
