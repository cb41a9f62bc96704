"""Issue 17, a newcomer's audit of `winback refresh`: at 200,000 users and 1.5M events the bar said
'refreshing profiles 4/4' and then sat for half the run (the recommendations rebuild, 4.2 of 8.7 s), and the
summary's '4.3 s' was the profiles' alone: the rebuild is now named on the bar and timed in the summary."""

from __future__ import annotations


def test_the_refresh_says_how_long_the_recommendations_took(cli, tmp_path):
    (tmp_path / "u.csv").write_text("external_id\nu1\n", encoding="utf-8")
    (tmp_path / "e.csv").write_text("user_id,kind,at,object\nu1,order,2026-11-20 09:00,sku-1\n", encoding="utf-8")
    assert cli("import", "users", str(tmp_path / "u.csv")).exit_code == 0
    assert cli("import", "events", str(tmp_path / "e.csv")).exit_code == 0
    result = cli("refresh")
    assert result.exit_code == 0, result.output
    line = next(t for t in result.output.splitlines() if t.startswith("recommendations rebuilt"))
    assert line.startswith("recommendations rebuilt (best sellers, bought-together) in ") and line.endswith(" s"), line


def test_the_bar_names_the_rebuild_after_the_profile_steps():
    from console.cli.profile_cmds import named_steps

    calls: list[tuple] = []
    step = named_steps(lambda done, total=None, *, description=None: calls.append((done, total, description)))
    step(1, 3)
    step(3, 3)
    assert calls == [(1, 3, "refreshing profiles"), (0, None, "rebuilding recommendations and scores")]
