"""A helper dispatcher in its own process: one partition of a run, so that rendering uses another CPU core.

Started by control.launch for large dry runs (`--workers`); it claims only rows with id % n == k, through the
same claim transactions as everyone else, and prints its summary as JSON. If it dies, its partition's rows stay
planned (the launching dispatcher's final pass takes them) or become `unknown` if they were claimed.

    python -m console.campaigns.worker DB CONFIG CAMPAIGN RUN K N [BATCH]
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    db_path, config_path, name, run, k, n = argv[:6]
    batch = int(argv[6]) if len(argv) > 6 and argv[6] else None
    from console.campaigns import model
    from console.campaigns.dispatch import Dispatcher, DispatchOptions
    from console.workspace import Workspace

    ws = Workspace.load(config=config_path or None, db=db_path)
    db = ws.open()
    db.execute("PRAGMA cache_size = -32768")   # 32 MiB: a helper reads its partition once, in order
    campaign = model.get(db, name)
    dry = bool(db.execute("SELECT dry_run FROM campaign_runs WHERE campaign_id = ? AND run = ?",
                          [campaign.id, int(run)]).fetchone()[0])
    summary = Dispatcher(db, ws.config, campaign, int(run), dry_run=dry,
                         options=DispatchOptions(batch_size=batch, partition=(int(k), int(n)))).run_to_end()
    sys.stdout.write(json.dumps(summary.as_dict()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
