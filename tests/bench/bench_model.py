"""Propensity models at scale: fit BG/NBD + Pareto/NBD + Gamma-Gamma and score a million customers.

Customers are drawn from the BG/NBD generative process (CDNOW-like parameters, in weeks) with numpy, observed
for up to two years, their times floored to whole days as winback's summaries of order events are. Spend per
order is drawn from Gamma-Gamma. Baselines measured in the same run: one evaluation of the BG/NBD
log-likelihood over all customers' arrays, and a plain numpy pass (a log over the same arrays).

    python tests/bench/bench.py model --customers 1000000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
SPEND = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--years", type=float, default=2.0, help="longest observation period")
    parser.add_argument("--continuous", action="store_true",
                        help="keep times continuous (no day grid): shows the cost when customers do not group")
    parser.add_argument("--sqlite", action="store_true",
                        help="also write the scores into a fresh SQLite workspace and time that")


def _timed(fn, *args, **kwargs):
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - started


def run(args: argparse.Namespace) -> int:
    from console.propensity import bgnbd
    from console.propensity.fit import fit_models
    from console.propensity.mle import Grouped
    from console.propensity.scoring import score_summary
    from console.propensity.simulate import simulate_bgnbd, simulate_spend
    from console.propensity.summary import Summary

    rng = np.random.default_rng(args.seed)
    truth = bgnbd.BGNBD(**TRUE)
    (x, t_x, T), gen_s = _timed(simulate_bgnbd, rng, args.customers, truth, T_max=args.years * 52.18,
                                day_grid=None if args.continuous else 7.0)
    monetary = simulate_spend(rng, x, **SPEND)
    s = Summary(user_id=np.arange(1, x.size + 1), x=x, t_x=t_x, T=T, monetary=monetary, unit="weeks",
                end_day=0)
    print(f"customers            {s.customers:>12,}   repeat buyers {s.repeaters:,}   generated in {gen_s:.2f} s")

    # Baselines over the same arrays.
    natural = np.array(list(TRUE.values()))
    _, plain_s = _timed(lambda: float(np.log(TRUE["alpha"] + T).sum()))
    _, ll_s = _timed(lambda: float(truth.log_likelihood(x, t_x, T).sum()))
    g, group_s = _timed(Grouped.build, x, t_x, T)
    _, ll_grouped_s = _timed(bgnbd.neg_mean_ll, natural, g)
    print(f"baseline: numpy log pass        {plain_s * 1000:8.1f} ms")
    print(f"baseline: BG/NBD LL, all rows   {ll_s * 1000:8.1f} ms")
    print(f"grouping to distinct (x,t_x,T)  {group_s * 1000:8.1f} ms   {g.x.size:,} groups")
    print(f"BG/NBD LL+gradient, grouped     {ll_grouped_s * 1000:8.1f} ms")

    (fits, notes), fit_s = _timed(fit_models, s)
    for name, res in fits.items():
        params = "  ".join(f"{k}={v:.4g}" for k, v in res.params.items())
        print(f"fit {name:<11} {res.seconds:6.2f} s  {res.evaluations:4d} evaluations  "
              f"converged={res.converged}  {params}")
    for note in notes:
        print(f"note: {note}")
    print(f"FIT TOTAL            {fit_s:8.2f} s   (target ≤ 20 s)   = {fit_s / ll_s:,.0f}× one full-row LL "
          f"evaluation, {fit_s / plain_s:,.0f}× a numpy log pass")
    recovered = {k: fits["bgnbd"].params[k] / v - 1 for k, v in TRUE.items()}
    print("BG/NBD recovery vs true: " + "  ".join(f"{k} {v:+.2%}" for k, v in recovered.items()))

    params = {name: res.params for name, res in fits.items()}
    scores, score_s = _timed(score_summary, params, s)
    print(f"SCORE                {score_s:8.2f} s   (target ≤ 5 s)    = {score_s / ll_s:,.1f}× one full-row LL "
          f"evaluation; mean P(alive) {scores.p_alive.mean():.3f}, "
          f"expected orders/90d {scores.expected_orders.sum():,.0f}")

    if args.sqlite:
        _bench_sqlite(s, fits)
    return 0


def _bench_sqlite(s, fits) -> None:
    """Write users and their scores through score_workspace's writer path into a temporary workspace."""
    import tempfile
    from pathlib import Path

    from console.propensity.fit import FitRun, store_run
    from console.propensity.scoring import score_workspace
    from storage.db import open_database

    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "bench.db")
        # One order on the first day and one on the last purchase day per customer is enough to score them.
        day0 = 20_000
        db.execute("BEGIN")
        db.conn.executemany("INSERT INTO users (id, external_id, created_at, updated_at) VALUES (?, ?, 0, 0)",
                            ((int(i), str(i)) for i in s.user_id))
        end_day = day0 + int(np.ceil(s.T.max() * 7))
        first = end_day - np.rint(s.T * 7).astype(np.int64)
        last = first + np.rint(s.t_x * 7).astype(np.int64)
        rows = []
        n = 0
        for uid, f, lst, x in zip(s.user_id.tolist(), first.tolist(), last.tolist(), s.x.tolist(), strict=True):
            rows.append((uid, f * 86400 + 43200, 10.0, n))
            n += 1
            if x > 0:
                rows.append((uid, lst * 86400 + 43200, 10.0, n))
                n += 1
        db.conn.executemany("INSERT INTO events (user_id, kind, at, amount, fingerprint) "
                            "VALUES (?, 'order', ?, ?, ?)", rows)
        db.execute("COMMIT")
        store_run(db, FitRun(None, "weeks", end_day * 86400, s.customers, s.repeaters, fits))
        summary, secs = _timed(score_workspace, db, as_of=end_day * 86400 + 86399)
        print(f"score_workspace (SQL summary + score + write {summary['scored']:,} rows) {secs:.2f} s "
              f"[{n:,} order events]")
        db.close()
