"""Layers: the R×F grid partition, layer settings, and the counts the console draws."""

from __future__ import annotations

import pytest

from console import layers
from console.config import Config, ConfigError, config_from_dict
from console.errors import BadInput
from console.profiles import refresh
from console.segments import counts
from tests import segments_support as hand
from tests.segments_support import AS_OF


def test_every_grid_cell_has_exactly_one_name():
    for r in range(1, 6):
        for f in range(1, 6):
            names = layers.grid_names_of(r, f)
            assert len(names) == 1, f"R{r} F{f} is named {names}"
    # ... and every name is used: no rule is shadowed by another.
    used = {layers.grid_name(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert used == set(layers.GRID_NAMES)
    assert len(layers.GRID_NAMES) == 10


def test_grid_cells_from_domain_md():
    assert layers.grid_name(5, 5) == "Champions"
    assert layers.grid_name(5, 1) == "New"
    assert layers.grid_name(4, 1) == "Promising"
    assert layers.grid_name(3, 3) == "Need Attention"
    assert layers.grid_name(1, 5) == "Can't Lose"
    assert layers.grid_name(2, 4) == "At Risk"
    assert layers.grid_name(1, 1) == "Hibernating"


def test_layer_settings_defaults_and_overrides():
    s = layers.settings(Config())
    assert s.layer_names()[0] == "warm loyal" and s.layer_names()[-1] == "cold light"
    assert layers.frequency_labels((2, 5)) == ["≥5", "2-4", "≤1"]
    assert layers.frequency_labels((2, 3)) == ["≥3", "2", "≤1"]
    assert layers.recency_labels((30, 90)) == ["<30d", "30-90d", "≥90d"]
    custom = layers.settings(config_from_dict({"layers": {"seen_days": [7, 30, 90],
                                                          "temperature_names": ["hot", "warm", "cool", "cold"]}}))
    assert custom.layer_names()[0] == "hot loyal"
    with pytest.raises(ConfigError, match="temperature_names: .* give 4 names"):
        layers.settings(config_from_dict({"layers": {"seen_days": [7, 30, 90]}}))
    with pytest.raises(ConfigError, match="growing"):
        layers.settings(config_from_dict({"layers": {"order_frequency": [3, 2]}}))


@pytest.fixture
def profiled(db, monkeypatch):
    monkeypatch.setenv("WINBACK_NOW", AS_OF)
    hand.build(db)
    refresh(db, Config())
    return db


def test_layer_matrix_counts_where_users_sit(profiled):
    m = counts.layer_matrix(profiled)
    assert m["rows"][0].startswith("warm") and m["cols"][0].startswith("loyal")
    by_layer = {name: m["counts"][i][j] for i, row in enumerate(m["layers"]) for j, name in enumerate(row)}
    assert by_layer["warm loyal"] == 1        # e
    assert by_layer["warm light"] == 2        # b, d
    assert by_layer["cold regular"] == 1      # c
    assert by_layer["cold light"] == 1        # f
    assert by_layer["cool regular"] == 1      # g: 54 days, two orders a day apart
    assert m["total"] == 6                    # a never did anything: no layer


def test_layer_matrix_of_a_segment_and_other_axes(profiled):
    m = counts.layer_matrix(profiled, "dormancy = at_risk")
    assert m["total"] == 2
    v = counts.layer_matrix(profiled, rows="visit_recency", cols="order_recency")
    assert v["rows"][-1] == "no visits" and v["cols"][-1] == "no orders"
    with pytest.raises(BadInput):
        counts.layer_matrix(profiled, rows="shoe_size")


def test_funnel_in_order_with_shares(profiled):
    f = counts.funnel(profiled)
    assert [(r["state"], r["users"]) for r in f] == [
        ("active", 1), ("at_risk", 2), ("dormant", 1), ("lost", 1), ("never_active", 2)]
    assert sum(r["share"] for r in f) == pytest.approx(1)
    assert f[4]["label"] == "never active"


def test_grid_matrix(profiled):
    g = counts.grid_matrix(profiled)
    names = {r["name"]: r["users"] for r in g["names"]}
    assert names["Champions"] == 1 and names["Hibernating"] == 1
    assert g["total"] == 5
    assert g["counts"][0][0] == 1             # R5 F5: e
