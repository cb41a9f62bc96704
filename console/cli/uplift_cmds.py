"""`winback uplift fit|show`: whom a message changes, learned from past campaigns' holdouts (issue #15).

`fit` trains a cross-fitted T-learner on the features recorded when each past campaign froze, reports the Qini
coefficient and uplift at 10/20/30 % with bootstrap intervals and a plain verdict, and — only when the verdict is
usable — scores every profiled user for `campaign plan --rank-by uplift`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from console.cli.output import JsonFlag, emit_rows, print_json, say, workspace_from

sub = typer.Typer(help="Uplift: whom a message changes, learned from past campaigns' holdouts.",
                  no_args_is_help=True)


def _pp(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 100:+.1f} pp"


def _print_report(r: Mapping[str, Any], tz_name: str) -> None:   # a fit's UpliftReport, or a stored one's JSON
    from console.timefmt import local_time

    for s in r.get("skipped", []):
        say(f"left out: {s}")
    if r["campaigns"]:
        emit_rows([{"campaign": c["campaign"], "run": c["run"], "launched": local_time(c["start_at"], tz_name),
                    "window": f"{c['window_days']}d", "mode": "simulated" if c.get("simulated") else "real"}
                   for c in r["campaigns"]], as_json=False,
                  title="trained on")
    if r["treated"] or r["control"]:
        ae = r.get("average_effect") or {}
        say(f"treated {r['treated']:,} ({r['treated_conversions']:,} returned), holdout {r['control']:,} "
            f"({r['control_conversions']:,} returned); average effect {_pp(ae.get('lift'))} "
            f"(95% {_pp(ae.get('low'))} to {_pp(ae.get('high'))})")
    if r.get("qini") is not None:
        say(f"Qini coefficient {r['qini']:.3f} (95% bootstrap {r['qini_low']:.3f} to {r['qini_high']:.3f}; "
            "0 = no better than random, 1 = perfect), cross-fitted over "
            f"{r['folds']} folds, {r['replicates']} bootstrap replicates")
        emit_rows([{"top": f"{k}%", "uplift": _pp(v["uplift"]), "95% low": _pp(v["low"]), "95% high": _pp(v["high"])}
                   for k, v in r["uplift_at"].items()], as_json=False,
                  title="uplift among the top k % by predicted uplift (treated rate − holdout rate)")
        emit_rows([{"share": f"{p['share']:.0%}", "extra returns": f"{p['extra_returns']:,.1f}",
                    "random": f"{p['random']:,.1f}"} for p in r["curve"][::2]], as_json=False,
                  title="Qini curve: extra returns bought by messaging the top share, against random")
    _print_calibration(r)
    # as the Model screen (screens/uplift_view.py): whom to target, by layer, before the verdict's advice
    layers = [b for b in r.get("by_layer") or [] if b["treated"] and b["control"]][:5]
    calibrated = "calibrated" if r.get("calibration") else "not calibrated"
    if layers:
        emit_rows([{"layer": b["layer"], "predicted": _pp(b["predicted_uplift"]), "observed": _pp(b["observed_lift"]),
                    "users": b["users"]} for b in layers], as_json=False,
                  title=f"where the predicted effect is largest (layer at send time, predicted {calibrated}; "
                        "all layers in --json)")
    say(f"verdict: {r['verdict']}")
    if r["usable"]:
        say(f"scored {r['scored']:,} profiled users, {calibrated} (as if messaged by "
            f"{r.get('scored_as_channel', 'sms')}); use `winback campaign plan NAME --rank-by uplift --budget N`")
    else:
        say("not offered for targeting: `--rank-by uplift` is refused until a fit is usable")


def _print_calibration(r: Mapping[str, Any]) -> None:
    """The calibration table (console.uplift.calibration), or why the scores are not calibrated."""
    from console.uplift.calibration import uncalibrated_note

    cal = r.get("calibration")
    if cal is None:
        if r.get("usable"):   # stored before calibration existed: its scores are the raw model's sizes
            say(uncalibrated_note(r.get("fit")))
        return
    emit_rows([{"group": i, "users": g["users"], "treated": f"{g['treated']:,} ({g['treated_returned']:,})",
                "holdout": f"{g['control']:,} ({g['control_returned']:,})", "predicted": _pp(g["predicted"]),
                "observed": _pp(g["observed"]), "95% low": _pp(g["low"]), "95% high": _pp(g["high"]),
                "calibrated": _pp(g["calibrated"])}
               for i, g in enumerate(reversed(cal["groups"]), start=1)], as_json=False,
              title="calibration: users grouped by cross-fitted predicted uplift, highest first (treated and holdout "
                    "with their returners); observed = treated rate − holdout rate; calibrated = the monotone "
                    "(isotonic) map fitted to it")
    say(f"scores are calibrated: the largest raw prediction {_pp(cal['raw_max'])} is scored "
        f"{_pp(cal['calibrated_max'])} at most, the largest uplift the groups observed (docs/uplift.md)")


@sub.command("fit")
def fit_cmd(
    ctx: typer.Context,
    campaign: Annotated[list[str] | None, typer.Option("--campaign", help="Train on this campaign (repeat); "
                                                       "default: every campaign with a closed window.")] = None,
    window: Annotated[str | None, typer.Option("--window", help="Conversion window, e.g. 14d (default: each "
                                               "campaign's own).")] = None,
    folds: Annotated[int, typer.Option("--folds", min=2, max=10, help="Cross-fitting folds.")] = 3,
    replicates: Annotated[int, typer.Option("--replicates", min=20, max=2000,
                                            help="Bootstrap replicates for the intervals.")] = 200,
    as_json: JsonFlag = False,
) -> None:
    """Fit a treatment-effect model of returning on past campaigns with a holdout, judge it, and score."""
    from console.campaigns.model import parse_days
    from console.uplift.fit import fit_uplift

    ws = workspace_from(ctx)
    db = ws.open()
    try:
        days = parse_days(window, "--window")
        if not as_json:
            say("fitting the uplift model on past campaigns' holdouts…")
        report = fit_uplift(db, ws.config, campaigns=campaign or None, window_days=days, folds=folds,
                            replicates=replicates)
    finally:
        db.close()
    if as_json:
        print_json(report)
    else:
        _print_report(report, ws.config.timezone)


@sub.command("show")
def show_cmd(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """The latest uplift fit: sizes, Qini, uplift at k %, where the effect is largest, the verdict."""
    from console.errors import NotFound
    from console.uplift.fit import latest_fit

    ws = workspace_from(ctx)
    db = ws.open()
    try:
        row = latest_fit(db)
    finally:
        db.close()
    if row is None:
        raise NotFound("no uplift fit yet: run `winback uplift fit`")
    report = row["report"] | {"fit": row["id"], "fitted_at": row["fitted_at"], "fitted_by": row["fitted_by"]}
    if as_json:
        print_json(report)
    else:
        _print_report(report, ws.config.timezone)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `winback` app."""
    app.add_typer(sub, name="uplift")
