"""Layers (分层): the four axes bucketed into named layers and the R×F grid (the counts the console draws over
them are console.segments.counts).

Axes (DOMAIN.md "Dormancy and layers"), each bucketed with thresholds from `[layers]` in winback.toml; bucket 0
is always the likeliest to come back (most recent, most frequent):

- visit_recency   days since the last visit             `visit_recency_days = [30, 90]`
- visit_frequency visits in the 7 days up to it          `visit_frequency = [2, 5]`   (≥5, 2-4, ≤1)
- order_recency   days since the last order             `order_recency_days = [30, 90]`
- order_frequency orders in the 30 days up to it         `order_frequency = [2, 3]`   (≥3, 2, ≤1)

A user's *layer* names two of them: temperature (days since last seen, any event: warm / cool / cold, edges
`seen_days = [30, 90]`) and loyalty (the order-frequency bucket: loyal / regular / light; never ordered counts as
light) — "warm loyal", "cold light". The console's heat map is exactly that 3×3 grid of layers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict, cast

from console.config import Config, ConfigError, setting_error, setting_place
from console.errors import BadInput

# The classic R×F grid (scores 1-5; R reversed so 5 = most recent). Names partition the 25 cells exactly once:
# (name, R scores, F scores). tests/test_segments_layers.py proves the partition.
GRID: tuple[tuple[str, str, str], ...] = (
    ("Champions", "5", "45"),
    ("Loyal", "34", "45"),
    ("Potential Loyalists", "45", "23"),
    ("New", "5", "1"),
    ("Promising", "4", "1"),
    ("Need Attention", "3", "3"),
    ("About to Sleep", "3", "12"),
    ("At Risk", "12", "34"),
    ("Can't Lose", "12", "5"),
    ("Hibernating", "12", "12"),
)
GRID_NAMES = tuple(name for name, _, _ in GRID)


def grid_names_of(r: int, f: int) -> list[str]:
    """Every grid name whose cells include (r, f) — exactly one for a valid table."""
    return [name for name, rs, fs in GRID if str(r) in rs and str(f) in fs]


def grid_name(r: int | None, f: int | None) -> str | None:
    if r is None or f is None:
        return None
    names = grid_names_of(r, f)
    return names[0] if names else None


class LayerSettingsDict(TypedDict):
    """LayerSettings.as_dict: the thresholds and names as lists (part of the profiles' settings signature)."""
    seen_days: list[int]
    visit_recency_days: list[int]
    visit_frequency: list[int]
    order_recency_days: list[int]
    order_frequency: list[int]
    temperature_names: list[str]
    loyalty_names: list[str]
    aov_bands: list[float]


@dataclass(frozen=True)
class LayerSettings:
    seen_days: tuple[int, ...] = (30, 90)
    visit_recency_days: tuple[int, ...] = (30, 90)
    visit_frequency: tuple[int, ...] = (2, 5)
    order_recency_days: tuple[int, ...] = (30, 90)
    order_frequency: tuple[int, ...] = (2, 3)
    temperature_names: tuple[str, ...] = ("warm", "cool", "cold")
    loyalty_names: tuple[str, ...] = ("loyal", "regular", "light")
    aov_bands: tuple[float, ...] = (100, 300, 1000)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> LayerSettingsDict:
        # every field but `extra`, so a new threshold joins the profiles' signature by itself (and
        # tests/test_dict_shapes.py fails until LayerSettingsDict names it too)
        return cast(LayerSettingsDict, {k: list(v) for k, v in asdict(self).items() if k != "extra"})

    def layer_names(self) -> list[str]:
        return [f"{t} {lo}" for t in self.temperature_names for lo in self.loyalty_names]


def _ascending_ints(config: Config, key: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or not value or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value
    ) or list(value) != sorted(set(value)):
        raise setting_error(config, "layers", key, f"{value!r}: give growing whole numbers above 0, e.g. [30, 90]")
    return tuple(value)


def _names_error(config: Config, raw: dict[str, Any], key: str, size_of: str, names: Any,
                 edges: list[int]) -> ConfigError:
    """Names that do not match the buckets of *size_of*: a pair, said at the names' line (the [layers] header when
    they are the defaults) with the edges' value and line."""
    line = setting_place(config, "layers", size_of).rpartition(" line ")[2] if size_of in raw else ""
    where = f"line {line}" if line.isdigit() else "written" if size_of in raw else "the default"
    shown = f"{names!r}" if key in raw else f"{list(names)!r} (the default)"
    return setting_error(config, "layers", key, f"{shown}: give {len(edges) + 1} names, one per bucket of {size_of} "
                                                f"({edges}, {where})", missing=key not in raw)


def settings(config: Config) -> LayerSettings:
    """Layer thresholds and names from `[layers]`, with the defaults above for anything not set."""
    raw = dict(config.layers or {})
    base = LayerSettings()
    values: dict[str, Any] = {}
    for key in ("seen_days", "visit_recency_days", "visit_frequency", "order_recency_days", "order_frequency"):
        values[key] = _ascending_ints(config, key, raw[key]) if key in raw else getattr(base, key)
    if "aov_bands" in raw:
        bands = raw["aov_bands"]
        if (not isinstance(bands, list) or not bands
                or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bands)
                or list(bands) != sorted(set(bands))):
            raise setting_error(config, "layers", "aov_bands", f"{bands!r}: give growing amounts, e.g. [100, 300, 1000]")
        values["aov_bands"] = tuple(bands)
    for key, size_of in (("temperature_names", "seen_days"), ("loyalty_names", "order_frequency")):
        names = raw.get(key, getattr(base, key))
        want = len(values[size_of]) + 1
        if (not isinstance(names, list | tuple) or len(names) != want
                or not all(isinstance(n, str) and n.strip() for n in names)):
            raise _names_error(config, raw, key, size_of, names, list(values[size_of]))
        values[key] = tuple(n.strip() for n in names)
    return LayerSettings(**values)


# ---- axis labels -------------------------------------------------------------------------------------------

def recency_labels(edges: tuple[int, ...]) -> list[str]:
    labels = [f"<{edges[0]}d"]
    labels += [f"{a}-{b}d" for a, b in zip(edges, edges[1:], strict=False)]
    labels.append(f"≥{edges[-1]}d")
    return labels


def frequency_labels(edges: tuple[int, ...]) -> list[str]:
    """Bucket 0 is the most frequent: [2, 5] → ≥5, 2-4, ≤1."""
    top = list(reversed(edges))
    labels = [f"≥{top[0]}"]
    for hi, lo in zip(top, top[1:], strict=False):
        labels.append(str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}")
    labels.append(f"≤{edges[0] - 1}")
    return labels


AXES = ("temperature", "loyalty", "visit_recency", "visit_frequency", "order_recency", "order_frequency")


def axis_labels(s: LayerSettings, axis: str) -> tuple[list[str], str | None]:
    """(labels by bucket index, label for users without a value on that axis)."""
    if axis == "temperature":
        return [f"{n} ({lab})" for n, lab in zip(s.temperature_names, recency_labels(s.seen_days),
                                                 strict=True)], None
    if axis == "loyalty":
        return [f"{n} ({lab})" for n, lab in zip(s.loyalty_names, frequency_labels(s.order_frequency),
                                                 strict=True)], None
    if axis == "visit_recency":
        return [f"seen {lab}" for lab in recency_labels(s.visit_recency_days)], "no visits"
    if axis == "visit_frequency":
        return [f"{lab} visits/7d" for lab in frequency_labels(s.visit_frequency)], "no visits"
    if axis == "order_recency":
        return [f"ordered {lab}" for lab in recency_labels(s.order_recency_days)], "no orders"
    if axis == "order_frequency":
        return [f"{lab} orders/30d" for lab in frequency_labels(s.order_frequency)], "no orders"
    raise BadInput(f"no layer axis {axis!r}; choose one of {', '.join(AXES)}")
