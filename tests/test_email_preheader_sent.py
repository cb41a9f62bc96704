"""The preheader `winback preview` shows is in the email that goes out (hidden text at the top of the HTML part,
which mail clients show beside the subject), against a real aiosmtpd server."""

from __future__ import annotations

import email
import email.policy

from tests.campaign_support import add_template, add_users, load_workspace, write_config
from tests.servers import SmtpSink

TEMPLATE = '''
name = "pre-mail"
channel = "email"
subject = "好久不见"
preheader = "您喜欢的<好物>有新品了"
body = "Hello {{ user.name }}. Unsubscribe: {{ links.unsubscribe }}"
html = "<p>Hello {{ user.name }}</p><a href='{{ links.unsubscribe }}'>unsubscribe</a>"
'''


def test_the_preheader_goes_out_hidden_at_the_top_of_the_html_part(tmp_path):
    from console.campaigns import control, model

    with SmtpSink() as smtp:
        cfg = write_config(tmp_path / "winback.toml", {"email": {
            "transport": "smtp", "host": "127.0.0.1", "port": smtp.port, "security": "none",
            "from": "B <hello@brand.example>", "unsubscribe_url": "http://127.0.0.1:8787/u/{token}", "timeout": 5}})
        ws = load_workspace(cfg)
        db = ws.open()
        add_users(db, 1)
        add_template(db, ws.config, TEMPLATE)
        model.create(db, "c", segment="all", channel="email", template="pre-mail", holdout=0)
        control.launch(db, ws.config, "c", real=True)
    [received] = smtp.messages
    msg = email.message_from_string(received["data"], policy=email.policy.default)
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    assert html.startswith('<div style="display:none')
    assert "您喜欢的&lt;好物&gt;有新品了" in html.split("</div>", 1)[0]   # escaped: text, never markup
    assert html.split("</div>", 1)[1].startswith("<p>Hello ")
    assert "有新品了" not in text   # the text part is the body as written
