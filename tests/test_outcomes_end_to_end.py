"""End to end on demo data, the way an operator runs it: build the demo, launch a real campaign with a holdout
(through a fake SMS gateway on 127.0.0.1), import the orders that came in afterwards, read the lift and its
interval from `winback outcomes --json`."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from importlib import resources

import pytest
import uvicorn

from console import stats
from console.inbound.server import ThreadedServer
from tests.fake_gateway import Gateway, sms_config

LAUNCH = "2026-11-20T02:00:00+00:00"   # 10:00 in Shanghai: inside any quiet-hours window
DAY = 86_400


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


@pytest.fixture
def gateway_config(tmp_path):
    gateway = Gateway()
    with ThreadedServer(uvicorn.Config(gateway.app, host="127.0.0.1", port=0, log_level="warning")) as url:
        path = tmp_path / "winback.toml"
        path.write_text(sms_config(url), encoding="utf-8")
        yield gateway, path


def test_launch_with_holdout_import_orders_read_lift(cli, db, gateway_config, tmp_path, monkeypatch):
    gateway, config = gateway_config
    monkeypatch.setenv("WINBACK_NOW", LAUNCH)

    def run(*args: str):
        result = cli("--config", str(config), *args)
        assert result.exit_code == 0, f"winback {' '.join(args)}\n{result.output}"
        return result

    run("demo", "--users", "3000", "--seed", "7", "--no-tui")
    template = resources.files("fixtures").joinpath("copy", "nostalgic-sms-zh.toml")
    run("templates", "add", str(template))
    run("campaign", "create", "spring", "--segment", "all", "--channel", "sms", "--template", "nostalgic-sms-zh",
        "--holdout", "20", "--window", "14d")
    launched = json.loads(run("campaign", "launch", "spring", "--real", "--yes", "--json").stdout)
    assert launched["sent"] > 0 and launched["sent"] == len(gateway.numbers())

    # Who is in which arm, as frozen at launch.
    arms = {ext: arm for ext, arm in db.execute(
        "SELECT u.external_id, s.arm FROM sends s JOIN users u ON u.id = s.user_id "
        "JOIN campaigns c ON c.id = s.campaign_id WHERE c.name = 'spring'")}
    treated = sorted(e for e, a in arms.items() if a != "holdout")
    holdout = sorted(e for e, a in arms.items() if a == "holdout")
    assert len(holdout) > 400 and len(treated) > 4 * 400 // 2

    # The demo's own history has a few orders after the launch already: customers who came back by themselves.
    start = int(datetime.fromisoformat(LAUNCH).timestamp())
    organic = {ext for (ext,) in db.execute(
        "SELECT DISTINCT u.external_id FROM events e JOIN users u ON u.id = e.user_id "
        "WHERE e.kind = 'order' AND e.at >= ? AND e.at < ?", [start, start + 14 * DAY])}
    monkeypatch.setenv("WINBACK_NOW", _iso(start + 16 * DAY))
    before = json.loads(run("outcomes", "spring", "--json").stdout)
    assert {a["arm"]: a["converters"] for a in before["arms"]} == {
        "A": len(organic & set(treated)), "holdout": len(organic & set(holdout))}

    # Later orders: every 8th treated user and every 20th holdout user (of those not back yet) come back within
    # the window; a few more order only after it closes (they must not count).
    back_t = [e for e in treated if e not in organic][::8]
    back_c = [e for e in holdout if e not in organic][::20]
    late = [e for e in treated if e not in organic][1::8][:30]
    orders = tmp_path / "orders.csv"
    with orders.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["user_id", "kind", "at", "amount"])
        for i, ext in enumerate(back_t + back_c):
            writer.writerow([ext, "order", _iso(start + DAY + 3600 * (i % 200)), "88.00"])
        for ext in late:
            writer.writerow([ext, "order", _iso(start + 15 * DAY), "50.00"])

    run("import", "events", str(orders))
    data = json.loads(run("outcomes", "spring", "--json").stdout)
    by_arm = {a["arm"]: a for a in data["arms"]}
    x_t = len(back_t) + len(organic & set(treated))
    x_c = len(back_c) + len(organic & set(holdout))
    assert by_arm["A"]["users"] == len(treated) and by_arm["holdout"]["users"] == len(holdout)
    assert by_arm["A"]["converters"] == x_t and by_arm["holdout"]["converters"] == x_c
    assert by_arm["A"]["revenue"] - before["arms"][0]["revenue"] == pytest.approx(88.0 * len(back_t))
    assert by_arm["A"]["reached"] == launched["sent"]

    lift = data["comparisons"][0]
    assert lift["absolute_lift"] == pytest.approx(x_t / len(treated) - x_c / len(holdout))
    ci = stats.newcombe_interval(x_t, len(treated), x_c, len(holdout))
    assert (lift["ci_low"], lift["ci_high"]) == pytest.approx((ci.low, ci.high))
    assert lift["ci_low"] < lift["absolute_lift"] < lift["ci_high"]
    assert lift["p_value"] < 0.05 and data["winner"] == "A"
    assert data["window_open"] is False and data["dry_run"] is False
