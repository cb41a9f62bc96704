"""What a newcomer following README.md and docs/ meets on the command line (the first-contact walk of
2026-12-07): the same situation answered with the same exit code, help that names what a command is for,
messages that read right. Each test failed before its fix."""

from __future__ import annotations


def test_model_show_before_any_fit_is_bad_input_like_uplift_show(cli) -> None:
    # README: exit 2 for bad usage or input, nothing changed. `uplift show` and `campaign show nosuch` answered a
    # missing thing with 2; `model show` answered the same situation with 1 ("the operation failed").
    model = cli("model", "show")
    uplift = cli("uplift", "show")
    assert uplift.exit_code == 2, uplift.output
    assert model.exit_code == 2, model.output
    assert "no model fitted yet" in model.output and "winback model fit" in model.output
    assert "Traceback" not in model.output


def test_the_command_list_says_why_answers_for_a_campaign(monkeypatch) -> None:
    # README: `winback why U0000042 --campaign nov-recall` — "why one person was or was not messaged". The list in
    # `winback --help` said only "Which segments a user is in…", so a newcomer looking for why someone was not
    # messaged did not find the command there.
    from typer.testing import CliRunner

    from console.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    why_line = next(line for line in result.output.splitlines() if line.lstrip("│ ").startswith("why "))
    assert "--campaign" in why_line and "messag" in why_line, why_line


def test_caps_set_says_what_the_cap_was_as_a_cap(cli) -> None:
    # README's tour sets `caps set sms 2/7d` on the demo, which has that cap already: it printed
    # "cap set: sms 2/7d (was 2)" — 2 what? The previous cap is said as a cap, or that nothing changed.
    assert cli("caps", "set", "sms", "3/7d").exit_code == 0
    changed = cli("caps", "set", "sms", "2/7d")
    assert changed.exit_code == 0, changed.output
    assert "cap set: sms 2/7d (was sms 3/7d)" in changed.output
    same = cli("caps", "set", "sms", "2/7d")
    assert same.exit_code == 0, same.output
    assert "sms 2/7d unchanged" in same.output and "(was" not in same.output


def test_audit_says_when_it_shows_only_the_newest_entries(cli) -> None:
    # `winback audit` prints the newest 50 and nothing else: on the demo after README's tour (81 entries) a
    # newcomer could not tell the log went on. Now a line on stderr says so and how to see more.
    for rule in ("1/1d", "2/1d", "3/1d"):
        assert cli("caps", "set", "any", rule).exit_code == 0
    cut = cli("audit", "-n", "2")
    assert cut.exit_code == 0, cut.output
    assert cut.stdout.count("caps.set") == 2
    assert "the newest 2 entries" in cut.stderr and "--limit" in cut.stderr
    whole = cli("audit", "-n", "50")
    assert whole.exit_code == 0, whole.output
    assert "newest" not in whole.stderr
    import json

    assert len(json.loads(cli("audit", "-n", "2", "--json").stdout)) == 2


def test_model_scores_says_which_customers_it_lists(cli, db) -> None:
    # `winback model scores` printed 20 rows under no title: not which score they were ordered by (the column
    # is shortened to `value`), nor that they are only the first 20 of thousands.
    db["users"].insert_all({"external_id": f"U{i}", "created_at": 0, "updated_at": 0} for i in range(5))
    ids = [row["id"] for row in db.query("SELECT id FROM users ORDER BY id")]
    db["scores"].insert_all({"user_id": uid, "p_alive": 0.5 + i / 10, "expected_orders_90d": 1.0,
                             "expected_value": 100.0 - i, "model": "bgnbd", "repeat_orders": 3, "fit_run": 1,
                             "as_of": 0, "scored_at": 0} for i, uid in enumerate(ids))
    db.conn.commit()
    result = cli("model", "scores", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "the 3 customers with the highest expected_value" in result.stdout, result.stdout
    asc = cli("model", "scores", "--limit", "2", "--sort", "p_alive", "--asc")
    assert "the 2 customers with the lowest p_alive" in asc.stdout, asc.stdout


def test_a_repeatable_option_is_shown_with_its_value_not_as_a_python_list(monkeypatch) -> None:
    # typer 0.29 writes `--channel <list[str]>`, which reads as if one option took a list (`--channel sms,email`
    # is refused: the option is repeated). The value's own type is shown; the help says "repeat".
    from typer.testing import CliRunner

    from console.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    for args in (["consent", "withdraw", "--help"], ["import", "users", "--help"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "list[" not in result.output, result.output
    line = next(line for line in result.output.splitlines() if line.lstrip("│ ").startswith("--map "))
    assert "<str>" in line, line


def test_a_segment_exported_to_a_csv_file_opens_in_excel_with_its_chinese_text(cli, db, tmp_path) -> None:
    # `segments export NAME -o FILE` wrote UTF-8 without a BOM: Excel on a Chinese Windows reads such a CSV as
    # GBK and shows 陈** as mojibake. The file is written as the import's rejects file is, UTF-8 with a BOM;
    # stdout (a pipe, a script) and JSON lines stay without one.
    db["users"].insert({"external_id": "C1", "name": "陈晓燕", "region": "华东", "created_at": 0, "updated_at": 0})
    db.conn.commit()
    assert cli("segments", "create", "everyone", "--rule", "all").exit_code == 0
    out = tmp_path / "everyone.csv"
    result = cli("segments", "export", "everyone", "-o", str(out))
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfuser,"), raw[:20]
    assert "华东" in raw.decode("utf-8-sig")
    piped = cli("segments", "export", "everyone")
    assert piped.stdout.startswith("user,")
    jsonl = tmp_path / "everyone.jsonl"
    assert cli("segments", "export", "everyone", "--format", "jsonl", "-o", str(jsonl)).exit_code == 0
    assert jsonl.read_bytes().startswith(b"{")
