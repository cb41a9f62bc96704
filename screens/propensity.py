"""Model: the propensity fit in use — parameters, log-likelihood, convergence — and its calibration check drawn as
bars: per bucket of repeat orders before the split, the mean orders actually made in the holdout against what each
model predicted. The same report as `winback model show` (`console.propensity.report.describe_latest`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from screens import sources
from screens.base import WinbackScreen
from screens.columns import Column, FitTable
from screens.format import bar, count, local_time
from screens.uplift_view import latest_uplift_fit, render_uplift
from screens.widgets import EmptyState

if TYPE_CHECKING:
    from console.propensity.report import ModelReport
    from screens.sources.overview import ModelPage

EMPTY = "no model fitted yet — run `winback model fit` (then `winback model score`, or `winback refresh`)"
MODEL_LABELS = {"bgnbd": "BG/NBD", "paretonbd": "Pareto/NBD", "gammagamma": "Gamma-Gamma"}
# One colour per series in the chart; the actual orders are the reference the predictions are read against.
SERIES_STYLES = {"actual": "bold white", "BG/NBD": "cyan", "Pareto/NBD": "magenta"}
BAR_WIDTH = 30
PARAMETERS = 4   # the most any model has (BG/NBD: r, alpha, a, b); one column each, so none is ever cut

# A FitTable (screens/columns.py): each parameter whole in its own column ("r 0.2426"), the customers a count; at
# 80 columns the log-likelihood and customers go before a parameter would be cut (whether it converged stays).
PARAMETER_COLUMNS = (
    # the names are short and told apart by their ends ("Pareto/…", "Gamma-G…" read as nothing): never cut
    Column("model", "model", "name", least=max(map(len, MODEL_LABELS.values())), most=16),
    *(Column(f"p{k}", "parameters" if k == 0 else "", "count") for k in range(PARAMETERS)),
    Column("log_lik", "log-lik", "count", priority=2),
    Column("customers", "customers", "count", priority=3),
    Column("converged", "converged", priority=1, least=9),
)


def parameter_text(value: float) -> str:
    """A fitted parameter as an operator reads it: 10,620 (not 1.062e+04), 31.6, 0.243 — thousands separators from
    1,000 up, three significant digits below, never e-notation."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if value == 0:
        return "0"
    return f"{value:.{max(0, 2 - math.floor(math.log10(abs(value))))}f}"


def parameter_rows(report: ModelReport) -> list[tuple[str, dict[str, Any]]]:
    """One row per fitted model: its parameters, log-likelihood, customers, and whether it converged."""
    rows: list[tuple[str, dict[str, Any]]] = []
    for name, fit in report["models"].items():
        params = [Text(f"{k} {parameter_text(v)}", justify="right") for k, v in (fit["params"] or {}).items()]
        ll = fit["log_likelihood"]
        rows.append((name, {
            "model": MODEL_LABELS.get(name, name),
            **{f"p{k}": params[k] if k < len(params) else Text("") for k in range(PARAMETERS)},
            "log_lik": Text("—" if ll is None else f"{ll:,.1f}", justify="right"),
            "customers": fit["customers"],
            "converged": Text("yes", "green") if fit["converged"] else Text("NO", "bold red"),
        }))
    return rows


def render_notes(report: ModelReport) -> Text:
    """The fits' own messages other than a plain "converged" (caps reached, why a fit is not trusted)."""
    text = Text()
    for name, fit in report["models"].items():
        message = fit.get("message") or ""
        if message and message != "converged":
            text.append(f"{MODEL_LABELS.get(name, name)}: {message}\n", "yellow" if fit["converged"] else "red")
    return text


def render_calibration(report: ModelPage, timezone: str, width: int = BAR_WIDTH) -> Text:
    """Actual vs predicted mean orders in the holdout, one bar per series, grouped by repeat-order bucket."""
    calibration = report.get("calibration")
    rows = report.get("calibration_rows") or []
    if not calibration:
        return Text("no calibration check in this run (fitted with --holdout 0)", "dim")
    if "skipped" in calibration:
        return Text(f"calibration check skipped: {calibration['skipped']}", "yellow")
    if not rows:
        return Text("no calibration rows", "dim")
    series = ["actual", *[k for k in rows[0] if k not in ("repeats", "customers", "actual")]]
    top = max((r.get(s) or 0.0) for r in rows for s in series) or 1.0
    text = Text("Calibration\n", "bold")
    text.append(f"fitted to {local_time(calibration.get('split_at'), timezone, '%Y-%m-%d')}; mean orders in the "
                f"next {calibration.get('holdout_days', '?')} days by repeat orders before\n", "dim")
    for s in series:
        text.append("█ ", SERIES_STYLES.get(s, ""))
        text.append(f"{s}   ")
    text.append("\n")
    label_width = max(len(s) for s in series)
    for r in rows:
        who = f"{count(r['customers'])} customers"
        label = f"all · {who}" if r["repeats"] == "all" else f"{r['repeats']} repeat orders · {who}"
        text.append(f"\n{label}\n", "bold")
        for s in series:
            value = r.get(s)
            text.append(f"  {s:<{label_width}} ", "dim")
            text.append(bar((value or 0.0) / top, width), SERIES_STYLES.get(s, ""))
            text.append(f" {'—' if value is None else format(value, '.2f')}\n")
    return text


def render_summary(report: ModelReport, timezone: str) -> Text:
    """Run, unit, history cut-off, who fitted it; and what was scored with it."""
    scores = report["scores"]
    text = Text()
    text.append(f"run {report['run']}", "bold")
    text.append(f" · unit {report['unit']} · history to {local_time(report['as_of'], timezone, '%Y-%m-%d')}"
                f" · fitted {local_time(report['fitted_at'], timezone)} by {report['fitted_by'] or '—'}\n")
    if scores["customers"]:
        mean = scores["mean_p_alive"]
        text.append(f"scored {count(scores['customers'])} customers"
                    f" ({local_time(scores['scored_at'], timezone)}) · mean p_alive "
                    f"{'—' if mean is None else format(mean, '.2f')} · p_alive < 0.3: "
                    f"{count(scores['p_alive_below_0_3'])}")
    else:
        text.append("not scored yet — run `winback model score`", "yellow")
    return text


class ModelScreen(WinbackScreen):
    """The latest propensity fit and its calibration check (read-only)."""

    LABEL = "Model"
    CSS_PATH = "propensity.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Reload", id="model.reload"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="model-box") as box:
            box.border_title = "Model"
            yield EmptyState("loading…", id="model-empty")
            yield Static(id="model-summary")
            params = FitTable(PARAMETER_COLUMNS, show_cursor=False, id="model-params")
            params.can_focus = False   # read-only: the keys scroll the page
            yield params
            yield Static(id="model-notes")
            yield Static(id="model-chart")
            yield Static(id="model-uplift")   # issue 15: the uplift fit (screens/uplift_view.py)

    def on_mount(self) -> None:
        self.query_one("#model-box").focus()

    def refresh_data(self) -> None:
        self.fetch("report", sources.model_report)
        self.fetch("uplift", latest_uplift_fit)

    def action_reload(self) -> None:
        """r: read the latest fit again (after `winback model fit` in another terminal)."""
        self.refresh_data()

    def show_uplift(self, row: dict[str, Any] | None) -> None:
        """The latest uplift fit under the propensity report; hidden until there is one."""
        part = self.query_one("#model-uplift", Static)
        part.display = row is not None
        if row is not None:
            part.update(render_uplift(row, self.timezone))

    def show_report(self, report: ModelPage | None) -> None:
        empty = self.query_one("#model-empty", EmptyState)
        summary, notes, chart = (self.query_one(f"#model-{part}", Static) for part in ("summary", "notes", "chart"))
        params = self.query_one("#model-params", FitTable)
        parts = (summary, params, notes, chart)
        box = self.query_one("#model-box")
        if report is None:
            empty.update(EMPTY)
            empty.display = True
            for part in parts:
                part.display = False
            box.border_title = "Model"
            return
        empty.display = False
        for part in parts:
            part.display = True
        box.border_title = f"Model · run {report['run']}"
        summary.update(render_summary(report, self.timezone))
        params.show(parameter_rows(report))
        note_text = render_notes(report)
        notes.update(note_text)
        notes.display = bool(note_text.plain)
        chart.update(render_calibration(report, self.timezone))
