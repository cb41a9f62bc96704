"""`winback model fit|show|score|scores`: recall propensity models (issue #9).

Fit BG/NBD and Pareto/NBD (and Gamma-Gamma for spend) on the workspace's order history, check them against a
holdout, and score every customer: P(alive), expected orders in the next 90 days, expected value.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, TypedDict

import typer

from console.cli.output import JsonFlag, emit_rows, print_json, progress_bar, say, workspace_from


class Unit(StrEnum):
    days = "days"
    weeks = "weeks"


class SortBy(StrEnum):
    expected_value = "expected_value"
    p_alive = "p_alive"
    expected_orders_90d = "expected_orders_90d"


AsOf = Annotated[
    str | None,
    typer.Option("--as-of", help="History up to this date (end of that day, workspace time zone) or ISO time."),
]

sub = typer.Typer(help="Recall propensity: who is still reachable (BG/NBD, Pareto/NBD, Gamma-Gamma).",
                  no_args_is_help=True)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


class ParamRow(TypedDict):   # one fitted model in `model fit` / `model show`
    model: str
    parameters: str            # "r=0.243  alpha=4.41 …"
    log_likelihood: float
    customers: int
    converged: bool
    note: str                  # why it is not trusted (the optimiser's word); "" when it converged


def _param_rows(fits: dict[str, Any]) -> list[ParamRow]:
    rows: list[ParamRow] = []
    for name, f in fits.items():
        params = f["params"] if isinstance(f, dict) else f.params
        get = (lambda k, f=f: f[k]) if isinstance(f, dict) else (lambda k, f=f: getattr(f, k))
        rows.append({
            "model": name,
            "parameters": "  ".join(f"{k}={_fmt(v)}" for k, v in params.items()),
            "log_likelihood": round(float(get("log_likelihood")), 2),
            "customers": int(get("customers")),
            "converged": bool(get("converged")),
            "note": "" if get("converged") else get("message"),
        })
    return rows


def _print_calibration(calibration: Mapping[str, Any] | None, tz_name: str) -> None:   # fresh, or stored JSON
    if not calibration:
        return
    if "skipped" in calibration:
        say(f"calibration check skipped: {calibration['skipped']}")
        return
    from console.propensity.report import calibration_table
    from console.timefmt import local_date

    emit_rows(
        calibration_table(calibration),
        as_json=False,
        title=f"Calibration: fitted to {local_date(calibration['split_at'], tz_name)}; mean orders in the next "
              f"{calibration['holdout_days']} days by repeat orders before, actual vs predicted",
    )


def _print_fit_notes(fits: dict[str, Any]) -> None:
    """Converged fits that stopped at a cap say so: the limiting model they describe is worth knowing."""
    for name, f in fits.items():
        message = f["message"] if isinstance(f, dict) else f.message
        converged = f["converged"] if isinstance(f, dict) else f.converged
        if converged and message != "converged":
            say(f"note: {name}: {message.removeprefix('converged; ')}")


def _as_of(db: Any, text: str | None, tz_name: str) -> int:
    """The history cut-off: --as-of if given; else the last refresh's as-of, so a workspace refreshed
    `--as-of 1998-07-01` is fitted and scored on the same history its profiles show; else now. Says which."""
    from console.clock import now_ts
    from console.profiles import last_refresh
    from console.timefmt import cli_as_of, local_time

    if text:
        return cli_as_of(text, tz_name, now_ts())
    refreshed = last_refresh(db)
    if refreshed is None:
        cutoff = now_ts()
        say(f"history up to now ({local_time(cutoff, tz_name)}): no refresh yet; --as-of DATE picks another day")
        return cutoff
    cutoff = refreshed["as_of"]
    say(f"history up to {local_time(cutoff, tz_name)}, the as-of of the last `winback refresh`; "
        "--as-of DATE picks another day")
    return cutoff


@sub.command("fit")
def fit_cmd(
    ctx: typer.Context,
    unit: Annotated[Unit, typer.Option("--unit", help="Time unit of the fitted parameters.")] = Unit.weeks,
    as_of: AsOf = None,
    holdout: Annotated[int, typer.Option("--holdout", help="Days held out for the calibration check (0: skip).",
                                         min=0)] = 90,
    score: Annotated[bool, typer.Option("--score/--no-score", help="Score every customer after fitting.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Fit the models on order history (up to --as-of), check them on a holdout, store them, and score."""
    from console.propensity.fit import fit_workspace
    from console.propensity.scoring import score_workspace

    ws = workspace_from(ctx)
    db = ws.open()
    try:
        cutoff = _as_of(db, as_of, ws.config.timezone)
        say("fitting BG/NBD, Pareto/NBD and Gamma-Gamma on order history…")
        run = fit_workspace(db, unit=unit.value, as_of=cutoff, timezone=ws.config.timezone,
                            holdout_days=holdout or None)
        scored = None
        if score:
            with progress_bar("scoring") as advance:
                scored = score_workspace(db, as_of=cutoff, timezone=ws.config.timezone, progress=advance)
    finally:
        db.close()
    if as_json:
        print_json(run.as_dict() | {"scored": scored})
        return
    emit_rows(_param_rows(run.fits), as_json=False,
              title=f"Run {run.run}: {run.customers:,} customers, {run.repeaters:,} repeat buyers, unit {run.unit}")
    _print_calibration(run.calibration, ws.config.timezone)
    _print_fit_notes(run.fits)
    for note in run.notes:
        say(f"note: {note}")
    if scored:
        say(f"scored {scored['scored']:,} customers; {scored['likely_gone']:,} have P(alive) < 0.3")


@sub.command("show")
def show_cmd(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """The latest fit: parameters, log-likelihood, convergence, and the calibration check."""
    from console.errors import NotFound
    from console.propensity.report import describe_latest
    from console.timefmt import local_time

    ws = workspace_from(ctx)
    tz = ws.config.timezone
    db = ws.open()
    try:
        info = describe_latest(db)
    finally:
        db.close()
    if info is None:
        # Nothing to show is a missing thing, exit 2 as `uplift show` and `campaign show NAME` answer it.
        raise NotFound("no model fitted yet: run `winback model fit`")
    if as_json:
        print_json(info)
        return
    emit_rows(_param_rows(info["models"]), as_json=False,
              title=f"Run {info['run']}: history to {local_time(info['as_of'], tz)}, unit {info['unit']}, "
                    f"fitted {local_time(info['fitted_at'], tz)} by {info['fitted_by']}")
    _print_calibration(info["calibration"], tz)
    _print_fit_notes(info["models"])
    scores = info["scores"]
    if scores["customers"]:
        say(f"{scores['customers']:,} customers scored at {local_time(scores['scored_at'], tz)}; mean P(alive) "
            f"{scores['mean_p_alive']:.3f}; {scores['p_alive_below_0_3']:,} below 0.3")
    else:
        say("no scores yet: run `winback model score`")


@sub.command("score")
def score_cmd(ctx: typer.Context, as_of: AsOf = None, as_json: JsonFlag = False) -> None:
    """Score every customer with the latest fit: P(alive), expected orders in 90 days, expected value."""
    from console.propensity.scoring import score_workspace

    ws = workspace_from(ctx)
    db = ws.open()
    try:
        cutoff = _as_of(db, as_of, ws.config.timezone)
        with progress_bar("scoring") as advance:
            summary = score_workspace(db, as_of=cutoff, timezone=ws.config.timezone, progress=advance)
    finally:
        db.close()
    if as_json:
        print_json(summary)
        return
    # One figure per line: eight columns of one row were cut to "1,795,5…" at 80 columns.
    from console.timefmt import local_time

    shown = {
        "fit run": summary["run"], "history as of": local_time(summary["as_of"], ws.config.timezone),
        "customers scored": summary["scored"], "repeat buyers": summary["repeat_buyers"],
        "mean P(alive)": f"{summary['mean_p_alive']:.3f}" if summary["mean_p_alive"] is not None else "—",
        "likely gone (P(alive) < 0.3)": summary["likely_gone"],
        "expected orders, next 90 days": summary["expected_orders_90d"],
        "expected value, next 90 days": summary["expected_value_90d"],
    }
    emit_rows([{"": k, "value": v} for k, v in shown.items()], as_json=False, title="Scores")


@sub.command("scores")
def scores_cmd(
    ctx: typer.Context,
    sort: Annotated[SortBy, typer.Option("--sort", help="Order by this score.")] = SortBy.expected_value,
    ascending: Annotated[bool, typer.Option("--asc", help="Lowest first.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many customers to list.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """List scored customers, best (or with --asc worst) first.

    Example: `winback model scores --sort p_alive --asc --limit 50` (the likeliest gone first)
    """
    from console.propensity.report import list_scores

    db = workspace_from(ctx).open()
    try:
        rows = list_scores(db, sort=sort.value, ascending=ascending, limit=limit)
    finally:
        db.close()
    # without user_id and name: contact details stay off listings; external_id identifies the customer
    shown: list[dict[str, Any]] = [
        {"external_id": r["external_id"], "p_alive": round(r["p_alive"], 4),
         "expected_orders_90d": round(r["expected_orders_90d"], 4),
         "expected_value": None if r["expected_value"] is None else round(r["expected_value"], 2),
         "repeat_orders": r["repeat_orders"], "model": r["model"]}
        for r in rows]
    if not as_json:  # short headings so the table fits 80 columns; JSON keeps the column names
        short = {"expected_orders_90d": "orders_90d", "expected_value": "value", "repeat_orders": "repeats"}
        shown = [{short.get(k, k): v for k, v in r.items()} for r in shown]
    # The title says the order and that this is the top of a longer list (`value` is expected_value, shortened).
    title = (f"the {len(shown)} customers with the {'lowest' if ascending else 'highest'} {sort.value} "
             "(--sort, --asc, --limit change it)")
    emit_rows(shown, as_json=as_json, title=title, empty="no scores yet: run `winback model fit`")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `winback` app."""
    app.add_typer(sub, name="model")
