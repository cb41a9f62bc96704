"""Content rules for marketing SMS, checked before launch (issue #13; DOMAIN.md "Providers").

The big Chinese SMS providers (Tencent, Huawei, Qiniu publish the rules; Aliyun close) reject marketing templates
that: use wording of refused categories (user recall, new-user acquisition, coupon and card promotion, points
redemption, app promotion, surveys, store invitations); do not end with the unsubscribe text (拒收请回复R); carry
a variable at a provider that forbids variables in promotional templates (Aliyun, Huawei); carry a link that is
not a fixed registered domain (a variable in the URL, a short-link host). A refusal costs a day of approval; a
campaign sent past such wording costs the signature. So winback says so in `templates lint` and `campaign plan`,
and a real launch with warnings needs `--accept-warnings` (CLI) or a second confirmation (console).

The rules change, so they live in winback.toml with the defaults below:

    [content_rules]
    opt_out_text = "拒收请回复R"
    allowed_link_domains = ["shop.example.com"]   # [] = no list: only variables and short links are warned about
    short_link_hosts = ["t.cn", …]
    no_variable_providers = ["aliyun", "huawei"]
    [content_rules.words]                          # category → words (replaces that category's defaults)
    coupon = ["优惠券", "领券"]

Which channels: an SMS channel whose transport is a Chinese provider (aliyun, tencent, huawei) — or whose
`[channels.NAME]` says `content_rules = true`; `content_rules = false` turns them off for a channel, and
`opt_out_text` there overrides the workspace's for that channel (it is also the text winback appends to a
free-text SMS, so such a template is checked with it appended). An approved template is checked on its approved
text (the provider's placeholders are its variables), at its own provider.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from console import templates
from console.config import Config, setting_error
from console.errors import WinbackError
from console.sms_length import sms_settings

CATEGORIES: dict[str, str] = {
    "user_recall": "user recall",
    "acquisition": "new-user acquisition",
    "coupon": "coupon and card promotion",
    "points": "points redemption",
    "app_promotion": "app promotion",
    "survey": "surveys",
    "store_invitation": "store invitations",
}
DEFAULT_WORDS: dict[str, tuple[str, ...]] = {
    "user_recall": ("用户召回", "召回", "老用户回归", "好久不见", "我们想你了", "回来看看"),
    "acquisition": ("新用户拉新", "拉新", "邀请好友", "新人专享", "注册即送", "首单立减"),
    "coupon": ("优惠券", "领券", "代金券", "抵用券", "红包", "满减券", "礼品卡", "购物卡"),
    "points": ("积分兑换", "积分换购", "积分抵现"),
    "app_promotion": ("下载App", "下载APP", "下载app", "下载客户端", "安装App"),
    "survey": ("问卷", "调查问卷", "满意度调查"),
    "store_invitation": ("到店", "莅临", "进店有礼", "到店领取"),
}
DEFAULT_OPT_OUT = "拒收请回复R"
DEFAULT_SHORT_HOSTS = ("t.cn", "url.cn", "w.url.cn", "dwz.cn", "suo.im", "suo.nz", "bit.ly", "tinyurl.com",
                       "t.co", "goo.gl", "is.gd", "ow.ly", "rebrand.ly", "s.id", "c.tb.cn", "m.tb.cn", "3.cn")
DEFAULT_NO_VARIABLES = ("aliyun", "huawei")
# Providers whose published rules these are: a channel on one of them is checked without being asked to.
RULED_TRANSPORTS = ("aliyun", "tencent", "huawei")

_JINJA_VAR = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_PLACEHOLDER = re.compile(r"\$\{[A-Za-z0-9_]+\}|\{[0-9]+\}")
# A link: a scheme, or a bare host with a dot and a TLD followed by a path (how SMS links are usually written).
_URL = re.compile(r"(?:https?://|www\.)[^\s，。！？、）)】\"']+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)+/[^\s，。！？、）)】\"']*",
                  re.I)


@dataclass(frozen=True)
class ContentWarning:
    """One rule the text breaks: `rule` (words:<category> | opt_out | variables | link), what was found."""

    rule: str
    message: str

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class Rules:
    words: dict[str, tuple[str, ...]]
    opt_out_text: str
    allowed_link_domains: tuple[str, ...]
    short_link_hosts: tuple[str, ...]
    no_variable_providers: tuple[str, ...]


def _strings(value: Any, config: Config | None, table: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise setting_error(config, table, key, f"{value!r} must be a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def rules(config: Config | None, channel: str | None = None) -> Rules:
    """The rules in force (winback.toml [content_rules] over the defaults; a channel's own opt_out_text wins)."""
    raw = getattr(config, "raw", None) or {}
    section = raw.get("content_rules", {})
    if not isinstance(section, dict):
        raise setting_error(config, "", "content_rules", f"{section!r} must be a table: write [content_rules]")
    words = dict(DEFAULT_WORDS)
    given = section.get("words", {})
    if not isinstance(given, dict):
        raise setting_error(config, "content_rules", "words", "must be a table of category = [words]")
    for category, listed in given.items():
        words[category] = _strings(listed, config, "content_rules.words", category)
    opt_out = section.get("opt_out_text", DEFAULT_OPT_OUT)
    if channel:
        own = _channel_table(config, channel).get("opt_out_text")
        # "" there means "append nothing" (console.sms_length), not "no rule": the workspace's text still holds
        opt_out = own if isinstance(own, str) and own.strip() else opt_out
    if not isinstance(opt_out, str):
        raise setting_error(config, "content_rules", "opt_out_text", f"{opt_out!r} must be a string")
    return Rules(
        words=words,
        opt_out_text=opt_out.strip(),
        allowed_link_domains=tuple(d.lower().lstrip(".") for d in _strings(
            section.get("allowed_link_domains", []), config, "content_rules", "allowed_link_domains")),
        short_link_hosts=tuple(h.lower() for h in _strings(
            section.get("short_link_hosts", list(DEFAULT_SHORT_HOSTS)), config, "content_rules", "short_link_hosts")),
        no_variable_providers=tuple(p.lower() for p in _strings(
            section.get("no_variable_providers", list(DEFAULT_NO_VARIABLES)), config, "content_rules",
            "no_variable_providers")),
    )


def _channel_table(config: Config | None, channel: str) -> dict[str, Any]:
    raw = getattr(config, "raw", None) or {}
    table = raw.get("channels", {}).get(channel, {})
    return table if isinstance(table, dict) else {}


def applies(config: Config | None, channel: str, template: Any = None) -> bool:
    """Whether the marketing SMS rules apply to `channel` (and this template): see the module's docstring."""
    if template is not None and getattr(template, "channel", "sms") != "sms":
        return False
    table = _channel_table(config, channel)
    if "content_rules" in table:
        return bool(table["content_rules"])
    if template is not None and getattr(template, "approved", None) is not None:
        return True
    return str(table.get("transport", "")).lower() in RULED_TRANSPORTS


def check_text(text: str, rules_: Rules, *, provider: str | None) -> list[ContentWarning]:
    """The warnings for one marketing SMS text (an approved text with its placeholders, or a template body)."""
    out: list[ContentWarning] = []
    for category, words in rules_.words.items():
        found = [w for w in words if w and w.lower() in text.lower()]
        if found:
            label = CATEGORIES.get(category, category)
            out.append(ContentWarning(f"words:{category}", f"wording the providers reject ({label}): "
                                + ", ".join(f"「{w}」" for w in found)))
    if rules_.opt_out_text and not text.rstrip().endswith(rules_.opt_out_text):
        out.append(ContentWarning("opt_out", f"a marketing SMS must end with 「{rules_.opt_out_text}」"))
    variables = _PLACEHOLDER.findall(text) + _JINJA_VAR.findall(text)
    if variables and provider and provider.lower() in rules_.no_variable_providers:
        out.append(ContentWarning("variables", f"{provider} allows no variables in marketing templates; this one has "
                            + ", ".join(dict.fromkeys(v.strip() for v in variables))))
    out.extend(_link_warnings(text, rules_))
    return out


def _link_warnings(text: str, rules_: Rules) -> list[ContentWarning]:
    out = []
    for expr in re.findall(r"\{\{[^}]*?(?:url|link)[^}]*?\}\}", text, re.I):
        out.append(ContentWarning("link", f"link {expr.strip()} comes from a variable: links must be a fixed "
                                  "registered domain"))
    # Jinja/placeholders inside a link: blank them out first so the URL regex still sees the whole link
    marked = _JINJA_VAR.sub("\x00VAR\x00", text)
    marked = _PLACEHOLDER.sub("\x00VAR\x00", marked)
    for match in _URL.finditer(marked.replace("\x00", "")):
        raw = match.group(0)
        shown = raw.replace("VAR", "…")
        url = raw if "://" in raw else "http://" + raw
        host = (urlsplit(url.replace("VAR", "x")).hostname or "").lower()
        if "VAR" in raw:
            out.append(ContentWarning("link", f"link {shown} has a variable in it: links must be a fixed registered "
                                "domain"))
        elif host in rules_.short_link_hosts:
            out.append(ContentWarning("link", f"link {shown} is a short link ({host}): links must be a fixed "
                                "registered domain"))
        elif rules_.allowed_link_domains and not any(host == d or host.endswith("." + d)
                                                     for d in rules_.allowed_link_domains):
            out.append(ContentWarning("link", f"link {shown}: {host} is not in allowed_link_domains "
                                f"({', '.join(rules_.allowed_link_domains)})"))
    return out


def template_warnings(config: Config | None, template: Any, channel: str | None = None) -> list[ContentWarning]:
    """Warnings for one template sent on `channel` (default: the template's own channel); [] when the rules do
    not apply. An approved template is checked on its approved text at its provider."""
    channel = channel or template.channel
    if not applies(config, channel, template):
        return []
    approved = getattr(template, "approved", None)
    if approved is not None:
        text, provider = approved.text, approved.provider
    else:
        # winback itself appends the channel's opt-out text to a free-text SMS (console.sms_length.compose)
        text = (template.body or "").strip() + _appended_opt_out(config)
        provider = str(_channel_table(config, channel).get("transport", "")).lower() or None
    return check_text(text, rules(config, channel), provider=provider)


def _appended_opt_out(config: Config | None) -> str:
    if not isinstance(config, Config):   # None, or a stand-in holding only .raw (tests)
        return ""
    return sms_settings(config).opt_out


def campaign_warnings(db: Any, config: Config | None, campaign: Any) -> list[str]:
    """The warnings of every template of a campaign (console.campaigns.model.Campaign) on its channel, each
    prefixed with the template's name; [] when none. Shared by plan, launch and the console's launch flow."""
    out: list[str] = []
    for variant in campaign.variants:
        try:
            template = templates.get(db, variant.template)
        except WinbackError:
            continue   # a missing template is launch_problems' business
        out.extend(f"template {template.name!r}: {w}" for w in template_warnings(config, template, campaign.channel))
    return list(dict.fromkeys(out))


__all__ = ["campaign_warnings", "CATEGORIES", "DEFAULT_OPT_OUT", "DEFAULT_WORDS", "Rules", "ContentWarning", "applies", "check_text",
           "rules", "template_warnings"]
