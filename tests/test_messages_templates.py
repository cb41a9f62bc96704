"""Templates: the TOML format, the checks on save, the sandbox refusing escapes and blow-ups, filters."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError

from console import templates
from console.config import config_from_dict
from console.errors import BadInput, NotFound
from console.message_context import sample_context
from console.templates import RenderLimit, Template, check, compile_template, parse_toml

SMS = 'name = "t"\nchannel = "sms"\nbody = """{body}"""\n'


def problems(body: str, channel: str = "sms") -> list[str]:
    return [str(p) for p in check(Template("t", channel, body))]


def render(body: str, context: dict | None = None, channel: str = "sms") -> str:
    """Render without the save checks: what the sandbox alone does with a template."""
    return compile_template(Template("t", channel, body)).render(context or sample_context())[0]["body"]


# -- the file format ---------------------------------------------------------------------------------------


def test_toml_template_from_product_md_is_read_and_saved_with_versions(db):
    text = (
        'name = "miss-you"\nchannel = "sms"\ngroup = "miss-you"\nvariant = "A"\n'
        'body = "{{ user.name }}，好久不见！送您{{ offer.amount | money }}元券，满{{ offer.threshold | money }}可用，'
        '{{ offer.expires | date }}前有效。"\n'
    )
    t = templates.save(db, parse_toml(text, "miss-you.toml"))
    assert (t.version, t.channel, t.group, t.variant) == (1, "sms", "miss-you", "A")
    again = templates.save(db, parse_toml(text.replace("好久不见", "想您了"), "miss-you.toml"))
    assert again.version == 2 and again.id == t.id
    stored = templates.get(db, "miss-you")
    assert "想您了" in stored.body and stored.source and "想您了" in stored.source
    assert db.execute("SELECT COUNT(*) FROM template_versions WHERE template_id = ?", [t.id]).fetchone()[0] == 2
    b = templates.save(db, parse_toml(text.replace('"A"', '"B"').replace('name = "miss-you"', 'name = "miss-you-b"')))
    assert [v.name for v in templates.variants(db, "miss-you")] == ["miss-you", "miss-you-b"]
    assert b.variant == "B"
    with pytest.raises(NotFound, match="miss-you"):
        templates.get(db, "nope")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\nchannel = "fax"\nbody = "hi"', "channel = 'fax'"),
        ('name = "x"\nchannel = "sms"\nbdy = "hi"', "unknown key 'bdy'"),
        ('name = "x"\nchannel = "sms"', "needs body"),
        ('name = "x"\nchannel = "sms"\nbody = "hi"\nsubject = "s"', "has no 'subject'"),
        ('name = "x"\nchannel = "email"\nbody = "hi"', "needs subject"),
        ('name = "x"\nchannel = sms', "not valid TOML"),
        ('channel = "sms"\nbody = "x"', "needs name"),
    ],
)
def test_bad_template_files_are_refused_with_the_reason(text, message):
    with pytest.raises(BadInput, match=message):
        parse_toml(text, "f.toml")


def test_email_must_carry_an_unsubscribe_link_in_text_and_html():
    t = Template("e", "email", "Hi {{ user.name }}", subject="Hello")
    assert any("unsubscribe" in str(p) for p in check(t))
    t.body += "\nUnsubscribe: {{ links.unsubscribe }}"
    assert check(t) == []
    t.html = "<p>Hi</p>"
    assert [p.part for p in check(t)] == ["html"]


# -- checks on save: line and column -----------------------------------------------------------------------


def test_syntax_error_names_line_and_column():
    found = check(Template("t", "sms", "第一行\nHi {{ user.name }, 好久不见"))
    assert len(found) == 1
    p = found[0]
    assert (p.part, p.line) == ("body", 2)
    assert p.column is not None and 4 <= p.column <= 17
    assert str(p).startswith("body line 2, column")


def test_unclosed_block_points_at_the_end():
    p = check(Template("t", "sms", "{% if user.name %}hi"))[0]
    assert p.line == 1 and p.column == len("{% if user.name %}hi") + 1
    assert "endif" in p.message


def test_unknown_variable_is_named_with_line_column_and_what_exists():
    p = check(Template("t", "sms", "你好\n{{ user.name }} {{ user.nmae }}"))[0]
    assert (p.line, p.column) == (2, 20)
    assert "user.nmae" in p.message and "name" in p.message
    assert "unknown variable 'customer'" in problems("{{ customer.name }}")[0]


def test_loops_over_variables_are_allowed_with_loop_variables():
    assert problems("{% for item in recommendations.best_sellers %}{{ item }}{% if not loop.last %}、{% endif %}"
                    "{% endfor %}") == []
    assert "over a variable" in problems("{% for c in 'x' * 100 %}{{ c }}{% endfor %}")[0]
    deep = ("{% for a in recommendations.best_sellers %}{% for b in recommendations.also_bought %}"
            "{% for c in recommendations.best_sellers %}{{ c }}{% endfor %}{% endfor %}{% endfor %}")
    assert "2 deep" in problems(deep)[0]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("{% set x = user.name %}{{ x }}", "{% set %}"),
        ("{% include 'other' %}", "{% include %}"),
        ("{% extends 'base' %}", "{% extends %}"),
        ("{% import 'm' as m %}", "{% import %}"),
        ("{% macro m() %}x{% endmacro %}", "{% macro %}"),
        ("{{ user.name.upper() }}", "calls"),
    ],
)
def test_statements_that_reach_outside_the_message_are_refused(body, why):
    assert any(why in p for p in problems(body))


# -- the sandbox --------------------------------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__mro__[-1].__subclasses__()[40]('/etc/passwd').read() }}",
    "{{ user.__class__.__base__.__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ user['__class__'] }}",
    "{{ user.name.__len__() }}",
    "{{ '{0.__class__.__mro__}'.format(user) }}",
    "{{ '{name.__class__}'.format_map(user) }}",
    "{{ '{x.__class__}'.format_map({'x': user}) }}",
    "{{ user|attr('__class__') }}",
    "{{ ''|attr('format') }}",
    "{{ (''|attr('format'))('{0.__class__}', user) }}",
    "{{ (''|attr('format_map'))({'a': user}) }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ config.items() }}",
    "{{ request.application.__globals__ }}",
]


@pytest.mark.parametrize("payload", ESCAPES)
def test_known_sandbox_escapes_are_refused_on_save(payload):
    assert problems(payload), payload


@pytest.mark.parametrize("payload", ESCAPES)
def test_known_sandbox_escapes_are_refused_by_the_sandbox_itself(payload):
    # Even if the save checks were bypassed, rendering raises instead of reaching Python internals.
    with pytest.raises((SecurityError, UndefinedError, TemplateError)):
        render(payload)


def test_output_blow_up_is_stopped_with_a_clear_error():
    payload = "{{ 'x' * 10000000 }}"
    found = problems(payload)
    assert found and "10,000,000" in found[0] and "capped" in found[0]
    with pytest.raises(RenderLimit, match=r"10,000,000 characters; rendered output is capped at 100,000"):
        render(payload)


@pytest.mark.parametrize(
    "payload",
    [
        "{{ [1] * 10000000 }}",
        "{{ ('a' * 5000) | replace('a', 'b' * 5000) }}",
        "{{ '%0100000000d' % 1 }}",
        "{{ 2 ** 100000 }}",
    ],
)
def test_other_blow_ups_are_refused(payload):
    with pytest.raises(SecurityError):
        render(payload)


def test_output_from_data_is_capped_while_rendering():
    ctx = sample_context()
    ctx["user"]["name"] = "x" * 40_000
    ctx["recommendations"]["best_sellers"] = ["a", "b", "c"]
    body = "{% for i in recommendations.best_sellers %}{{ user.name }}{% endfor %}"
    assert problems(body) == []
    with pytest.raises(RenderLimit, match="capped"):
        render(body, ctx)


# -- filters -------------------------------------------------------------------------------------------------


def test_money_date_and_default_in_the_workspace_locale():
    ctx = sample_context()
    ctx["offer"].update(amount=20, threshold=12000.5, expires=1_764_691_199)  # 2025-12-02 23:59:59 +08:00
    assert render("{{ offer.amount | money }}/{{ offer.threshold | money }}/{{ offer.amount | money(true) }}",
                  ctx) == "20/12,000.50/¥20"
    assert render("{{ offer.expires | date }} {{ offer.expires | date('%Y-%m-%d') }}", ctx) == "12月2日 2025-12-02"
    ctx["user"]["name"] = ""
    assert render("{{ user.name | default('亲') }}", ctx) == "亲"
    en = config_from_dict({"workspace": {"locale": "en_US", "currency": "USD", "timezone": "America/New_York"}})
    t = compile_template(Template("t", "sms", "{{ offer.expires | date }} {{ offer.amount | money(true) }}"),
                         templates.locale_of(en))
    assert t.render(ctx)[0]["body"] == "Dec 2 $20"


def test_none_renders_empty_never_the_word_none_and_is_reported():
    ctx = sample_context()
    ctx["user"]["name"] = None
    texts, empties = compile_template(Template("t", "sms", "Hi {{ user.name }}, welcome back")).render(ctx)
    assert texts["body"] == "Hi , welcome back"
    assert [(e.expression, e.snippet) for e in empties] == [("user.name", "Hi , welcome")]


def test_track_filter_adds_campaign_parameters():
    ctx = sample_context()
    ctx["campaign_tracking"] = {"utm_source": "winback", "utm_campaign": "spring"}
    assert render("{{ 'https://b.example/x?a=1' | track }}", ctx) == (
        "https://b.example/x?a=1&utm_source=winback&utm_campaign=spring")


def test_an_unknown_template_name_suggests_the_close_ones_and_counts_the_rest(db):
    for i in range(15):
        templates.save(db, Template(f"t{i:02d}", "sms", "hi"))
    templates.save(db, Template("offer-sms-zh", "sms", "hi"))
    with pytest.raises(NotFound, match=r"did you mean offer-sms-zh\?"):
        templates.get(db, "offer-sms")
    with pytest.raises(NotFound, match=r"and 4 more \(`winback templates list`\)"):
        templates.get(db, "zzz")


def test_a_missing_email_subject_reads_as_english():
    with pytest.raises(BadInput, match='an email template needs subject = "..."'):
        templates.parse_toml('name = "e"\nchannel = "email"\nbody = "hi"\n', "e.toml")


def test_changing_a_templates_channel_is_refused_in_plain_english(db):
    templates.save(db, Template("t", "sms", "hi"))
    with pytest.raises(BadInput, match="'t' is an sms template; save an email one under another name"):
        templates.save(db, Template("t", "email", "hi {{ links.unsubscribe }}", subject="s"))


# -- bombs: every render is bounded in size and work (issue 12.5) ------------------------------------------------

BOMBS = [
    "{{ ['x' * 99999] * 99999 }}",                      # each step small, the list's text 10^10 characters
    "{{ [['x' * 99999] * 5] * 99999 }}",
    "{{ 9 ** 64 ** 64 ** 64 ** 64 }}",                  # ((9^64)^64)^64 ...: exponents small, the number not
    "{{ 9**9**9**9 }}",                                 # 9^729: a 696-digit "amount"
    "{{ (2 ** 4000) * (2 ** 4000) * (2 ** 4000) }}",
    "{{ ['a', 'b'] | join('x' * 99999) ~ ['x' * 99999, 'x' * 99999, 'x' * 99999] | join }}",
    "{{ " + " ~ ".join(["'x' * 99999"] * 12) + " }}",   # each part under the cap, together far over it
]


@pytest.mark.parametrize("bomb", BOMBS)
def test_bombs_are_refused_on_save_and_by_the_sandbox(bomb):
    found = problems(bomb)
    assert found and ("capped" in found[0] or "too large" in found[0] or "limit" in found[0]), found
    with pytest.raises(RenderLimit):
        render(bomb)


@pytest.mark.parametrize("bomb", BOMBS)
def test_bombs_behind_a_condition_the_sample_does_not_take_are_refused_on_save(bomb):
    guarded = "{% if user.attributes.vip %}" + bomb + "{% endif %}hello {{ user.name }}"
    found = problems(guarded)
    assert found and "line 1" in found[0], found


def test_bombs_that_reach_a_saved_template_fail_that_recipient_only(db):
    """A template saved before these checks (or data that makes one large) renders as a render error for the
    recipient it hits — never a hang, a MemoryError or a traceback."""
    from console import messages
    from console.config import Config

    db.execute("INSERT INTO users (external_id, name, phone, attributes, created_at, updated_at) "
               "VALUES ('vip', 'Ann', '+8613800000001', '{\"vip\": 1}', 0, 0), "
               "('plain', 'Bob', '+8613800000002', '{\"vip\": 0}', 0, 0)")
    body = "{% if user.attributes.vip %}" + BOMBS[0] + BOMBS[2] + "{% endif %}hi {{ user.name }}"
    # As an older winback saved it: straight into the tables, past today's checks.
    db.execute("INSERT INTO templates (name, channel, body, version, created_at, updated_at, updated_by) "
               "VALUES ('old', 'sms', ?, 1, 0, 0, 't')", [body])
    ids = [r[0] for r in db.execute("SELECT id FROM users ORDER BY external_id DESC")]
    vip, plain = messages.render_for_users(db, Config(), "old", ids)
    assert vip.error_kind == "too_long" and not vip.text
    assert plain.error is None and plain.content == "hi Bob"


def test_a_template_nested_too_deep_to_parse_is_a_problem_not_a_crash():
    found = problems("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}")
    assert found and "nested too deeply" in found[0]
