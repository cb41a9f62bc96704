"""[channels.NAME] in winback.toml: a bad unknown_consent or a bad number (rate, retries …) is said with the file,
the line and the key — wherever the table is written: its own [channels.sms], a dotted key, an inline table.
unknown_consent was BadInput without the file; rate = "fast" was a traceback (float('fast'))."""

from __future__ import annotations

from tests.config_words_support import add_after, init_toml, one_error

PERSON = "external_id,phone\nu1,+8613800138000\n"


def _with_a_person(cli, tmp_path) -> None:   # type: ignore[no-untyped-def]
    (tmp_path / "people.csv").write_text(PERSON, encoding="utf-8")
    assert cli("import", "users", str(tmp_path / "people.csv")).exit_code == 0


def test_a_bad_unknown_consent_names_the_file_line_and_key(cli, tmp_path):
    _with_a_person(cli, tmp_path)
    line = add_after(init_toml(), "[channels.sms]", 'unknown_consent = "maybe"')
    said = one_error(cli("consent", "show", "u1"))
    assert said.startswith(f"error: winback.toml line {line}: [channels.sms] unknown_consent: 'maybe': write "
                           '"deny"'), said


def test_a_rate_that_is_no_number_names_the_file_line_and_key_instead_of_a_traceback(cli, tmp_path):
    _with_a_person(cli, tmp_path)
    line = add_after(init_toml(), "[channels.email]", 'rate = "fast"')
    said = one_error(cli("consent", "show", "u1"))
    assert said == f"error: winback.toml line {line}: [channels.email] rate: 'fast' is not a number"


def test_a_setting_in_an_inline_table_or_a_dotted_key_is_found_on_its_line(cli, tmp_path):
    _with_a_person(cli, tmp_path)
    toml = tmp_path / "winback.toml"
    toml.write_text('[workspace]\nname = "t"\n\n[channels]\nemail.retries = "three"\n'
                    'sms = { transport = "dryrun", unknown_consent = "sometimes" }\n', encoding="utf-8")
    said = one_error(cli("consent", "show", "u1"))
    assert said.startswith("error: winback.toml line 6: [channels.sms] unknown_consent: 'sometimes'"), said
    toml.write_text('[workspace]\nname = "t"\n\n[channels]\nemail.retries = "three"\n', encoding="utf-8")
    said = one_error(cli("consent", "show", "u1"))
    assert said == "error: winback.toml line 5: [channels.email] retries: 'three' is not a whole number"


def test_a_table_that_is_a_value_names_the_file_line_and_key(cli):
    toml = init_toml()
    text = toml.read_text(encoding="utf-8")
    toml.write_text('quiet_hours = "20:00-08:00"\n' + text.replace("[quiet_hours]", "[old_quiet_hours]"),
                    encoding="utf-8")
    said = one_error(cli("quiet-hours", "show"))
    assert said.startswith("error: winback.toml line 1: quiet_hours: '20:00-08:00' must be a table"), said



def test_an_unknown_transport_is_a_bad_file_exit_2_with_its_line_not_a_channel_failure(cli, db, workspace):
    from tests.campaign_support import SMS_TEMPLATE, add_template, add_users
    from tests.config_words_support import change

    add_users(db, 2)
    add_template(db, workspace.config, SMS_TEMPLATE)
    assert cli("campaign", "create", "c", "--segment", "all", "--channel", "sms", "--template", "miss-you",
               "--holdout", "0").exit_code == 0
    line = change(init_toml(), 'transport = "dryrun"', 'transport = "carrier-pigeon"')   # the first: [channels.sms]
    said = one_error(cli("campaign", "plan", "c"))
    assert said.startswith(f"error: winback.toml line {line}: [channels.sms] transport: 'carrier-pigeon'; choose "
                           "one of"), said


def test_a_channels_quiet_hours_flag_that_is_neither_true_nor_false_is_refused_not_read_as_on(cli, db, workspace):
    from tests.campaign_support import SMS_TEMPLATE, add_template, add_users

    add_users(db, 2)
    add_template(db, workspace.config, SMS_TEMPLATE)
    assert cli("campaign", "create", "c", "--segment", "all", "--channel", "sms", "--template", "miss-you",
               "--holdout", "0").exit_code == 0
    line = add_after(init_toml(), "[channels.sms]", 'quiet_hours = "no"')
    said = one_error(cli("campaign", "plan", "c"))
    assert said.startswith(f"error: winback.toml line {line}: [channels.sms] quiet_hours: 'no': write true or "
                           "false"), said
