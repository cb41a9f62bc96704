"""winback's X-Twilio-Signature check agrees with the official `twilio` package's RequestValidator."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from console.inbound import twilio_signature

TOKEN = "12345"

FORMS = [
    {},
    {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234", "From": "+12349013030",
     "To": "+18005551212"},   # Twilio's documented example
    {"MessageSid": "SM1", "Body": "退订 ＳＴＯＰ & more=1", "From": "+8613800000001", "Empty": ""},
]
URLS = [
    "https://mycompany.com/myapp.php?foo=1&bar=2",
    "https://winback.example.com/callbacks/twilio/status?wb=wb.1.1.7.abcdef%40winback.invalid",
    "https://winback.example.com:8443/callbacks/twilio/inbound",
    "http://127.0.0.1:8787/callbacks/twilio/inbound",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("form", FORMS)
def test_the_signature_is_the_one_the_official_validator_computes_and_accepts(url, form):
    official = RequestValidator(TOKEN)
    ours = twilio_signature.compute(TOKEN, url, list(form.items()))
    assert ours == official.compute_signature(url, form)
    assert official.validate(url, form, ours)
    assert twilio_signature.valid(TOKEN, url, list(form.items()), ours)


def test_twilios_documented_example_signature():
    # Twilio's security docs: this URL and these parameters under auth token 12345
    form = FORMS[1]
    url = URLS[0]
    assert twilio_signature.compute(TOKEN, url, list(form.items())) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_repeated_parameters_are_sorted_by_value_as_the_official_validator_does():
    pairs = [("Media", "b"), ("To", "+1"), ("Media", "a")]

    class MultiDict(dict):   # what the validator reads repeated values from (Flask's getall)
        def getall(self, name: str) -> list[str]:
            return [v for k, v in pairs if k == name]

    expected = RequestValidator(TOKEN).compute_signature("https://x.example/cb", MultiDict(pairs))
    assert twilio_signature.compute(TOKEN, "https://x.example/cb", pairs) == expected


@pytest.mark.parametrize("url", URLS)
def test_a_url_signed_with_or_without_its_default_port_is_accepted_like_the_official_validator(url):
    official = RequestValidator(TOKEN)
    form = FORMS[2]
    for variant in twilio_signature.port_variants(url):
        signature = official.compute_signature(variant, form)
        assert official.validate(url, form, signature)
        assert twilio_signature.valid(TOKEN, url, list(form.items()), signature)


@pytest.mark.parametrize("tamper", ["token", "url", "param", "signature"])
def test_anything_changed_is_refused_by_both(tamper):
    form = dict(FORMS[2])
    url = URLS[1]
    signature = RequestValidator(TOKEN).compute_signature(url, form)
    token = TOKEN
    if tamper == "token":
        token = "54321"
    elif tamper == "url":
        url = url.replace("status", "inbound")
    elif tamper == "param":
        form["Body"] = "hello"
    else:
        signature = signature[:-2] + "A="
    assert not RequestValidator(token).validate(url, form, signature)
    assert not twilio_signature.valid(token, url, list(form.items()), signature)
    assert not twilio_signature.valid(TOKEN, URLS[1], list(FORMS[2].items()), None)
