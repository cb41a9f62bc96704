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
