"""The uplift fit on the Model screen (issue 15): the verdict, the arms, the Qini curve drawn as bars against
random, uplift at 10/20/30 %, and the layers where the predicted effect is largest. The same report as
`winback uplift show` (console.uplift.fit.latest_fit)."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from screens.format import bar, count, local_time

BAR_WIDTH = 30
RANDOM_MARK = "┄"   # the random baseline's line: dashed, never a block like the model's bars


def dashed(fraction: float, width: int) -> str:
    """The random baseline as a dashed line of `width` cells filled to `fraction` (whole cells: its figure is
    printed beside it)."""
    cells = round(max(0.0, min(1.0, fraction)) * width)
    return (RANDOM_MARK * cells).ljust(width)


def latest_uplift_fit(db: Any) -> dict[str, Any] | None:
    """For the screen's worker (numpy and friends load only when the Model screen asks)."""
    from console.uplift.fit import latest_fit

    return latest_fit(db)


def _pp(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:+.1f} pp"


def render_uplift(row: dict[str, Any], timezone: str, width: int = BAR_WIDTH) -> Text:
    r = row["report"]
    text = Text("Uplift", "bold")
    text.append(f" · fit #{row['id']} · {local_time(row['fitted_at'], timezone)} by {row['fitted_by']}\n", "dim")
    usable = bool(row["usable"])
    text.append("verdict: ", "bold")
    text.append(f"{r['verdict']}\n", "green" if usable else "yellow")
    if not usable:
        text.append("not offered for targeting: --rank-by uplift is refused\n", "dim")
    if r["treated"] or r["control"]:
        text.append(f"treated {count(r['treated'])} ({count(r['treated_conversions'])} returned) · holdout "
                    f"{count(r['control'])} ({count(r['control_conversions'])} returned)\n")
    if r.get("qini") is None:
        return text
    text.append(f"Qini coefficient {r['qini']:.3f} (95% {r['qini_low']:.3f} to {r['qini_high']:.3f}) · uplift in "
                "the top " + ", ".join(f"{k}% {_pp(v['uplift'])}" for k, v in r["uplift_at"].items()) + "\n")
    curve = r.get("curve") or []
    top = max([abs(p["extra_returns"]) for p in curve] + [abs(p["random"]) for p in curve] + [1e-9])
    text.append("\nQini curve: extra returns bought by messaging the top share\n", "bold")
    # The two lines differ by glyph as well as colour (solid bars, a dashed baseline): in 16 colours and under
    # NO_COLOR, where cyan and dim look alike, they still read apart (as the overview's heat map does).
    text.append("█ model", "cyan")
    text.append("   ")
    text.append(f"{RANDOM_MARK} random (messaging at random)\n", "dim")
    for p in curve[1::2]:
        text.append(f"  {p['share']:>4.0%} ", "dim")
        text.append(bar(max(0.0, p["extra_returns"]) / top, width), "cyan")
        text.append(f" {p['extra_returns']:,.1f}\n")
        text.append("       ")
        text.append(dashed(max(0.0, p["random"]) / top, width), "dim")
        text.append(f" {p['random']:,.1f}\n", "dim")
    _append_calibration(text, r, row["id"])
    layers = [b for b in r.get("by_layer") or [] if b["treated"] and b["control"]][:5]
    if layers:
        said = "calibrated" if r.get("calibration") else "not calibrated"
        text.append(f"\nwhere the predicted effect is largest (layer at send time, {said})\n", "bold")
        for b in layers:
            text.append(f"  {b['layer']:<16} predicted {_pp(b['predicted_uplift'])} · observed "
                        f"{_pp(b['observed_lift'])} · {count(b['users'])} users\n")
    return text


def _append_calibration(text: Text, r: dict[str, Any], fit_id: int) -> None:
    """Predicted against observed uplift per group of users (console.uplift.calibration), as `uplift show`; or, for
    a fit stored before calibration existed, that its scores are the raw model's sizes."""
    from console.uplift.calibration import uncalibrated_note

    cal = r.get("calibration")
    if cal is None:
        if r.get("usable"):
            text.append(f"\n{uncalibrated_note(fit_id)}\n", "yellow")
        return
    text.append("\ncalibration: groups by predicted uplift, highest first\n", "bold")
    text.append(f"  {'predicted':>9}   {'observed':>9} {'(95% interval)':<23} {'calibrated':>10}   treated · "
                "holdout\n", "dim")
    for g in reversed(cal["groups"]):
        interval = f"({_pp(g['low'])} to {_pp(g['high'])})"
        text.append(f"  {_pp(g['predicted']):>9}   {_pp(g['observed']):>9} {interval:<23} "
                    f"{_pp(g['calibrated']):>10}   {count(g['treated'])} · {count(g['control'])}\n")
    text.append(f"scores calibrated: at most {_pp(cal['calibrated_max'])} (raw up to {_pp(cal['raw_max'])})\n", "dim")
