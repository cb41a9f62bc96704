"""How long an SMS is, how many billed parts it makes, and what an operator should be warned about.

Two counting modes (DOMAIN.md "Messages"; provider rules change, so the mode and the texts are settings):

- ``cn`` — mainland China (Aliyun, Tencent Cloud, Huawei Cloud agree): signature 【品牌】 + content + opt-out
  text, every character counts 1; up to 70 characters is one billed message, longer ones bill 67 per part;
  at most 500 characters.
- ``gsm`` — 3GPP TS 23.038: GSM-7 160 single / 153 per part; one character outside GSM-7 makes the whole
  message UCS-2: 70 single / 67 per part. GSM-7 extension characters cost 2 septets, characters outside the
  BMP (most emoji) cost 2 UCS-2 units, and neither is split across two parts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from console.config import Config, channel_price, setting_error, setting_place

MODES = ("cn", "gsm")

CN_SINGLE, CN_PART, CN_MAX = 70, 67, 500
GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# GSM 03.38 basic character set (default alphabet) and the extension table reached through ESC.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# Look-alikes that word processors insert and that silently turn a 160-character message into a 70 one.
GSM7_LOOKALIKES = {
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u2026": "...", "\u00a0": " ", "\uff0c": ",", "\uff01": "!", "\uff1f": "?",
}

# Wording several Chinese providers reject in promotional SMS templates (user recall, coupons).
DEFAULT_FLAGGED_WORDS = ("召回", "回归", "优惠券", "领券", "红包", "coupon", "recall")

LINK_RE = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
_NON_BMP = re.compile("[\U00010000-\U0010FFFF]")
_NOT_GSM7 = re.compile("[^" + re.escape("".join(sorted(GSM7_BASIC | GSM7_EXTENSION))) + "]")
_GSM7_EXT = re.compile("[" + re.escape("".join(sorted(GSM7_EXTENSION))) + "]")


class Warning_(str):
    """A warning for the operator: reads as its message, carries a stable ``code`` for grouping."""

    code: str

    def __new__(cls, code: str, message: str) -> Warning_:
        obj = super().__new__(cls, message)
        obj.code = code
        return obj

    def __reduce__(self):  # copy / pickle / dataclasses.asdict keep the code
        return (Warning_, (self.code, str(self)))


class Measure(NamedTuple):
    """The result of measuring one SMS. Unpacks as ``(units, parts, encoding, warnings)``."""

    units: int          # characters (cn) or septets / UCS-2 code units (gsm) of the whole billed text
    parts: int          # billed messages
    encoding: str       # "cn", "gsm7" or "ucs2"
    warnings: list[str]


def compose(content: str, signature: str = "", opt_out: str = "") -> str:
    """The text the provider bills and the phone shows: signature + content + opt-out text."""
    return f"{signature}{content}{opt_out}"


def measure(
    text: str,
    mode: str = "cn",
    signature: str = "",
    opt_out: str = "",
    *,
    flagged_words: tuple[str, ...] | list[str] = DEFAULT_FLAGGED_WORDS,
    marketing: bool = True,
) -> Measure:
    """Measure the content *text* as it will be billed, with the channel's signature and opt-out text added."""
    full = compose(text, signature, opt_out)
    warnings: list[str] = []
    if mode == "cn":
        units = len(full)
        parts = 0 if units == 0 else (1 if units <= CN_SINGLE else -(-units // CN_PART))
        encoding = "cn"
        if units > CN_MAX:
            warnings.append(Warning_(
                "over_500", f"{units} characters: providers refuse SMS over {CN_MAX} characters"))
        if _NON_BMP.search(full):
            warnings.append(Warning_(
                "emoji", "contains an emoji or other character outside the BMP: many Chinese gateways "
                "reject it or show '?'"))
    elif mode == "gsm":
        units, parts, encoding, forcing = _measure_gsm(full)
        if forcing:
            lookalikes = [ch for ch in forcing if ch in GSM7_LOOKALIKES]
            shown = " ".join(repr(ch) for ch in forcing[:5])
            hint = ""
            if lookalikes:
                hint = "; replace " + ", ".join(f"{ch!r} with {GSM7_LOOKALIKES[ch]!r}" for ch in lookalikes[:3])
            warnings.append(Warning_(
                "ucs2", f"{shown} force{'s' if len(forcing) == 1 else ''} UCS-2: "
                f"{UCS2_SINGLE}/{UCS2_PART} characters per part instead of {GSM_SINGLE}/{GSM_PART}{hint}"))
        if len(full) > CN_MAX:
            warnings.append(Warning_("over_500", f"{len(full)} characters: most gateways refuse over {CN_MAX}"))
    else:
        raise ValueError(f"unknown SMS mode {mode!r}; choose one of {', '.join(MODES)}")

    if units == 0:
        warnings.append(Warning_("empty", "the message is empty"))
    if LINK_RE.search(text):
        warnings.append(Warning_(
            "link", "contains a link: providers hold messages with unregistered links for review, and the link "
            "counts towards the length"))
    if marketing and not opt_out:
        warnings.append(Warning_("no_opt_out", "no opt-out text: every marketing SMS must carry one"))
    hits = _flagged_re(tuple(flagged_words)).findall(text) if flagged_words else []
    if hits:
        hits = list(dict.fromkeys(h.lower() for h in hits))
        warnings.append(Warning_(
            "provider_wording", f"wording some Chinese providers reject in promotional SMS: {', '.join(hits)}"))
    return Measure(units, parts, encoding, warnings)


@lru_cache(maxsize=32)
def _flagged_re(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)


def _measure_gsm(full: str) -> tuple[int, int, str, list[str]]:
    """Units, parts, encoding and the characters that forced UCS-2."""
    # Regular expressions do the per-character work in C: lint measures every message of an audience.
    forcing = list(dict.fromkeys(_NOT_GSM7.findall(full)))
    double_char: Callable[[str], bool]   # does this character take two units?
    if not forcing:
        doubles = len(_GSM7_EXT.findall(full))
        single, per_part, encoding, double_char = GSM_SINGLE, GSM_PART, "gsm7", GSM7_EXTENSION.__contains__
    else:
        doubles = len(_NON_BMP.findall(full))
        single, per_part, encoding = UCS2_SINGLE, UCS2_PART, "ucs2"
        double_char = _is_non_bmp
    units = len(full) + doubles
    if units == 0:
        return 0, 0, encoding, forcing
    if units <= single:
        return units, 1, encoding, forcing
    if not doubles:
        return units, -(-units // per_part), encoding, forcing
    return units, _pack([2 if double_char(ch) else 1 for ch in full], per_part), encoding, forcing


def _is_non_bmp(ch: str) -> bool:
    return ord(ch) > 0xFFFF


def _pack(weights: list[int], capacity: int) -> int:
    """Parts needed when a 2-unit character (escape pair, surrogate pair) is never split across parts."""
    if all(w == 1 for w in weights):
        return -(-len(weights) // capacity)
    parts, used = 1, 0
    for w in weights:
        if used + w > capacity:
            parts += 1
            used = 0
        used += w
    return parts


class SmsSettings(NamedTuple):
    mode: str
    signature: str
    opt_out: str
    price: float
    flagged_words: tuple[str, ...]
    signature_note: str = ""   # cn mode: what was done to a signature written without 【】 (said by preview/lint)


def cn_signature(signature: str) -> str:
    """A cn-mode signature as the carriers require it, inside 【】 (DOMAIN.md: length = signature with 【】 +
    content + opt-out): '品牌', '【品牌' or '[品牌]' become '【品牌】' — without them mainland carriers reject the
    message, and the phone shows the brand glued to the text ('品牌王*，…'). An empty signature stays empty."""
    text = signature.strip()
    if not text or (text.startswith("【") and text.endswith("】") and len(text) > 2):
        return signature
    return f"【{text.strip('【】[] ')}】"


def sms_settings(config: Config) -> SmsSettings:
    """The SMS channel's counting mode, signature, opt-out text and unit price, with the workspace defaults.

    ``[channels.sms] mode = "cn" | "gsm"`` (default "cn"; "gsm" with transport = "twilio"); signature defaults to
    【brand】; the opt-out text defaults by locale to 「拒收请回复R」 (Chinese) or "Reply STOP to opt out" — on Twilio
    always to the latter, with the signature "brand: ".
    """
    ch = config.channel("sms")
    # Twilio carries SMS outside mainland China: a zh_CN workspace's 【brand】 and 拒收请回复R do not belong in them,
    # and Twilio bills GSM-7 texts 160/153 per segment — unless the table says otherwise
    overseas = str(ch.get("transport") or "").strip().lower() == "twilio"
    mode = str(ch.get("mode", "gsm" if overseas else "cn")).lower()
    if mode not in MODES:
        # winback.toml's fault, not a recipient's: a ConfigError, which the send path never records against them
        raise setting_error(config, "channels.sms", "mode", f"{mode!r}; choose one of {', '.join(MODES)}")
    locale = str(getattr(config, "locale", "zh_CN") or "zh_CN")
    chinese = locale.lower().startswith("zh") and not overseas
    signature = ch.get("signature")
    if signature is None:
        signature = f"【{config.brand}】" if mode == "cn" or chinese else f"{config.brand}: "
    note = ""
    if mode == "cn" and cn_signature(str(signature)) != signature:
        fixed = cn_signature(str(signature))
        note = (f"{setting_place(config, 'channels.sms', 'signature')}: [channels.sms] signature {signature!r} has "
                f"no 【】: sent as {fixed!r}, as mainland carriers require (write signature = \"{fixed}\")")
        signature = fixed
    opt_out = ch.get("opt_out_text")
    if opt_out is None:
        opt_out = "拒收请回复R" if chinese else " Reply STOP to opt out"
    if overseas:
        note = _mainland_lines(config, ch) or note
    price = channel_price(config, "sms")
    words = tuple(ch.get("flagged_words", DEFAULT_FLAGGED_WORDS))
    return SmsSettings(mode, str(signature), str(opt_out), price, words, note)


def _mainland_lines(config: Config, ch: dict) -> str:
    """On twilio, the mainland settings written in the table (winback init writes all three), said with their line:
    Twilio sends 【brand】 and 拒收请回复R to customers abroad as they are."""
    def mainland(key: str, value: object) -> bool:
        text = str(value)
        if key == "mode":
            return text.lower() == "cn"
        return any(c in "【】" or "\u4e00" <= c <= "\u9fff" for c in text)

    found = [(key, ch[key]) for key in ("mode", "signature", "opt_out_text") if key in ch and mainland(key, ch[key])]
    if not found:
        return ""
    written = ", ".join(f"{key} = {value!r}" for key, value in found)
    return (f"{setting_place(config, 'channels.sms', found[0][0])}: [channels.sms] {written}: mainland China's forms, "
            f"which Twilio sends abroad as they are: remove {'these lines' if len(found) > 1 else 'this line'} "
            "(docs/channels.md, SMS elsewhere: Twilio)")
