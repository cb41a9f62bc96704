"""What a budget buys by uplift against p_alive (console.uplift.targeting.budget_comparison): the p_alive side must
rank as a p_alive ranking would, never inherit the uplift order."""

from __future__ import annotations

import numpy as np

from console.uplift.targeting import budget_comparison


def test_without_any_p_alive_there_is_no_p_alive_figure():
    # seen on the demo (no propensity model fitted): "ranked by p_alive" repeated the uplift ranking's own figure
    uplift = np.array([0.3, 0.2, 0.1, 0.0])
    out = budget_comparison(uplift, np.full(4, np.nan), 2, net_value=np.array([9.0, 5.0, 1.0, -2.0]),
                            ids=np.array([4, 3, 2, 1]))
    assert out["extra_returns"] == 0.5 and out["extra_returns_ranked_by_p_alive"] is None
    assert out["value"]["ranked_by_p_alive"] is None and out["value"]["ranked"]["net_value"] == 14.0


def test_users_without_p_alive_follow_in_id_order_not_in_uplift_order():
    uplift = np.array([0.3, 0.2, 0.1, 0.0])            # uplift order; ids 40, 30, 20, 10
    p_alive = np.array([np.nan, np.nan, 0.9, np.nan])
    out = budget_comparison(uplift, p_alive, 2, ids=np.array([40, 30, 20, 10]))
    # by p_alive: id 20 (0.9), then the unscored by id: 10 → 0.1 + 0.0, not 0.1 + 0.3
    assert out["extra_returns_ranked_by_p_alive"] == 0.1
