"""winback.toml: finding it, reading it, and the defaults an operator gets without one.

Config is found by --config > $WINBACK_CONFIG > ./winback.toml; the database by
--db > $WINBACK_DB > config `database` > ./winback.db. Secrets never live here: only the *names* of
environment variables that hold them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.config_lines import find_line, syntax_hint
from console.errors import WinbackError


class ConfigError(WinbackError):
    """The configuration file is unreadable or holds a value winback cannot use (exit code 2: bad input, nothing
    changed by the command that read it). An operator's error like any WinbackError — said in words naming the file
    and the field, never a traceback — but never a recipient's: the send path stops on it instead of recording
    anyone as failed (console/campaigns/claim.py)."""

    exit_code = 2


def setting_error(where: Config | Path | str | None, table: str, key: str | None, problem: str, *,
                  missing: bool = False) -> ConfigError:
    """The ConfigError for a bad value, in the project's words: 'winback.toml line 12: [quiet_hours] start: PROBLEM'.

    *where* is the Config (or its file); *table* the dotted table ('channels.sms', '' for the top level); *key*
    the setting (None: the table itself); *missing*: the key is not written, so the line is the table's header.
    The line is looked up in the file's text (console.config_lines), since tomllib gives no positions for values;
    when it cannot be found the words name the file and the field alone.
    """
    field_words = f"[{table}] {key}" if table and key else f"[{table}]" if table else str(key)
    return ConfigError(f"{setting_place(where, table, key, missing=missing)}: {field_words}: {problem}")


def setting_place(where: Config | Path | str | None, table: str, key: str | None, *, missing: bool = False) -> str:
    """'winback.toml line 12' for *key* of *table* (see setting_error), or the file alone when the line is not found;
    with *missing*, the line of the key if it is written after all, else of the table's header."""
    path = where if where is None or isinstance(where, Path | str) else getattr(where, "path", None)
    shown = str(path) if path else "winback.toml"
    line = None
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):   # gone or changed since it was read: say it without the line
            text = ""
        line = find_line(text, table, key)
        if line is None and missing:
            line = find_line(text, table)
    return f"{shown} line {line}" if line else shown


# Dormancy presets (DOMAIN.md "Dormancy and layers"): metric and thresholds in days.
DORMANCY_PRESETS: dict[str, dict[str, Any]] = {
    "high": {"metric": "order", "at_risk_days": 30, "dormant_days": 90, "lost_days": 365},
    "mid": {"metric": "visit", "at_risk_days": 30, "dormant_days": 60, "lost_days": 180},
    "low": {"metric": "any", "at_risk_days": 90, "dormant_days": 180, "lost_days": 540},
    "social": {"metric": "login", "at_risk_days": 3, "dormant_days": 7, "lost_days": 30},
}


@dataclass
class Config:
    """The resolved workspace configuration."""

    path: Path | None = None          # the file it came from; None when running on defaults
    workspace: str = "winback"
    brand: str = "品牌"
    default_region: str = "CN"        # phone numbers without +CC are read in this region
    timezone: str = "Asia/Shanghai"   # naive times in imports are read in this zone
    currency: str = "CNY"
    locale: str = "zh_CN"
    database: str | None = None       # relative paths are relative to the config file
    dormancy: dict[str, Any] = field(default_factory=lambda: dict(DORMANCY_PRESETS["high"]))
    layers: dict[str, Any] = field(default_factory=dict)
    quiet_hours: dict[str, Any] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    inbound: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    _checked: set[str] = field(default_factory=set, init=False, repr=False, compare=False)

    def channel(self, name: str) -> dict[str, Any]:
        """Settings of one channel, {} when not configured (the dry-run transport then applies).

        The numbers the transports and the dispatcher read (rate, retries, …) are checked here, once per channel
        and only for a channel in use, so a bad one is a ConfigError naming its line instead of a traceback."""
        settings = dict(self.channels.get(name, {}))
        if name not in self._checked:
            _check_channel_numbers(self, name, settings)
            self._checked.add(name)
        return settings


# The numbers in [channels.NAME] and how their readers convert them (console/channels/base.py, provider_batch.py,
# console/campaigns/dispatch.py, record.py, provider_query.py). `price` has its own check in channel_price.
CHANNEL_NUMBERS: dict[str, type] = {
    "rate": float, "concurrency": int, "retries": int, "backoff": float, "max_backoff": float, "timeout": float,
    "batch": int, "lease_seconds": int, "unreachable_retries": int, "reconcile_after": int,
}


# The numbers of [outcomes] (console/outcomes.py, campaigns/plan.py, finished.py) and [inbound] (console/inbound/
# server.py, mapping.py), checked when the file is read: the tables are small and their readers far apart.
TABLE_NUMBERS: dict[str, dict[str, type]] = {
    "outcomes": {"min_sample": int, "alpha": float, "baseline_rate": float},
    "inbound": {"port": int, "max_body_bytes": int},
}


def _check_channel_numbers(config: Config, name: str, settings: dict[str, Any]) -> None:
    _check_numbers(config, f"channels.{name}", settings, CHANNEL_NUMBERS)


def _check_numbers(where: Config | Path | None, table: str, settings: dict[str, Any], kinds: dict[str, type]) -> None:
    for key, kind in kinds.items():
        if key not in settings:
            continue
        value = settings[key]
        try:   # only what its reader cannot convert: a negative number was read (as 0 or none) and still is
            kind(value)
        except (TypeError, ValueError, OverflowError):
            what = "a whole number" if kind is int else "a number"
            raise setting_error(where, table, key, f"{value!r} is not {what}") from None


# Mainland bulk SMS costs 0.036–0.045 CNY per billed part (DOMAIN.md); other channels cost nothing unless set.
DEFAULT_SMS_PRICE_CN = 0.04


def channel_price(config: Config, channel: str) -> float:
    """The price of one message (one billed part for SMS) on *channel*: `price` in its settings, else the default.

    The one place prices are read, so the plan, the budget, the ledger and the channel agree.
    """
    settings = config.channel(channel)
    if "price" in settings:
        try:
            price = float(settings["price"])
        except (TypeError, ValueError) as exc:
            raise setting_error(config, f"channels.{channel}", "price",
                                f"{settings['price']!r} is not a number (the price of one message)") from exc
        if price < 0:
            raise setting_error(config, f"channels.{channel}", "price", f"{price!r} must not be negative")
        return price
    if channel == "sms" and settings.get("mode", "cn") == "cn":
        return DEFAULT_SMS_PRICE_CN
    return 0.0


def phone_region(config: Config) -> str:
    """[workspace] default_region, checked against the regions phonenumbers knows (a ConfigError with its line
    otherwise: the import's phone parser raised a ValueError traceback). Checked where numbers are read, not when
    the file is, so a command that reads none does not pay for phonenumbers' import."""
    import phonenumbers

    region = str(config.default_region).strip().upper()
    if phonenumbers.PhoneMetadata.metadata_for_region(region) is None:
        raise setting_error(config, "workspace", "default_region",
                            f"{config.default_region!r} is not a phone region (a country code such as CN, US, GB)")
    return region


def find_config_path(explicit: str | Path | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get("WINBACK_CONFIG")
    if env:
        return Path(env)
    local = Path("winback.toml")
    return local if local.exists() else None


def load_config(explicit: str | Path | None = None) -> Config:
    """Read the config file if one is found; otherwise return defaults."""
    path = find_config_path(explicit)
    if path is None:
        return Config()
    if not path.exists():
        raise ConfigError(f"{path}: no such config file")
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        hint = syntax_hint(text, str(exc))   # '，' for ',', '“' for '"': the character tomllib stopped at
        raise ConfigError(f"{path}: {exc}" + (f": {hint}" if hint else "")) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 ({exc})") from exc
    return config_from_dict(data, path)


def config_from_dict(data: dict[str, Any], path: Path | None = None) -> Config:
    # Each table is a table, or its readers would fail on it with a traceback far from the file.
    for table in ("workspace", "dormancy", "layers", "quiet_hours", "channels", "inbound", "import", "outcomes"):
        _table(data, table, path)
    ws = data.get("workspace", {})
    cfg = Config(path=path, raw=data)
    for key in ("name", "brand", "default_region", "timezone", "currency", "locale", "database"):
        if key in ws:
            setattr(cfg, "workspace" if key == "name" else key, str(ws[key]))
    dormancy = data.get("dormancy", {})
    preset = dormancy.get("preset")
    if preset is not None:
        if preset not in DORMANCY_PRESETS:
            raise setting_error(path, "dormancy", "preset",
                                f"{preset!r} is not a preset; choose one of {', '.join(DORMANCY_PRESETS)}")
        cfg.dormancy = dict(DORMANCY_PRESETS[preset])
    cfg.dormancy.update({k: v for k, v in dormancy.items() if k != "preset"})
    cfg.layers = dict(data.get("layers", {}))
    cfg.quiet_hours = dict(data.get("quiet_hours", {}))
    for name in data.get("channels", {}):
        _table(data["channels"], name, path, within="channels")
    cfg.channels = {k: dict(v) for k, v in data.get("channels", {}).items()}
    cfg.inbound = dict(data.get("inbound", {}))
    for table, kinds in TABLE_NUMBERS.items():
        _check_numbers(path, table, data.get(table, {}), kinds)
    _check_inbound_tables(cfg.inbound, path)
    _check_timezone(cfg.timezone, path)
    return cfg


def _table(data: dict[str, Any], key: str, path: Path | None, within: str = "") -> None:
    if key in data and not isinstance(data[key], dict):
        name = f"{within}.{key}" if within else key
        raise setting_error(path, within, key, f"{data[key]!r} must be a table: write [{name}] and its settings "
                                               "under it")


def _check_inbound_tables(inbound: dict[str, Any], path: Path | None) -> None:
    """[inbound.receipts.CHANNEL] / [inbound.replies.CHANNEL] (and a receipt table's statuses) are tables: read
    inside `winback serve`'s request handlers, anything else was a traceback there, far from the file."""
    for kind in ("receipts", "replies"):
        _table(inbound, kind, path, within="inbound")
        for channel, section in inbound.get(kind, {}).items():
            _table(inbound[kind], channel, path, within=f"inbound.{kind}")
            if kind == "receipts":
                _table(section, "statuses", path, within=f"inbound.receipts.{channel}")


def _check_timezone(name: str, path: Path | None) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise setting_error(path, "workspace", "timezone",
                            f"{name!r} is not an IANA time zone (e.g. \"Asia/Shanghai\")") from exc


def resolve_db_path(cfg: Config, explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("WINBACK_DB")
    if env:
        return Path(env)
    if cfg.database:
        db = Path(cfg.database)
        if not db.is_absolute() and cfg.path is not None:
            db = cfg.path.parent / db
        return db
    return Path("winback.db")


DEFAULT_CONFIG_TEXT = '''\
# winback.toml — workspace settings. Secrets never go here: name the environment variable that holds them.

[workspace]
name = "{name}"
brand = "品牌"                 # shown in SMS signatures as 【品牌】
default_region = "CN"          # phone numbers without a +country code are read in this region
timezone = "Asia/Shanghai"     # naive times in imported files are read in this zone; quiet-hours fallback
currency = "CNY"
locale = "zh_CN"
database = "winback.db"        # relative to this file; --db and $WINBACK_DB override it

[dormancy]
# preset = "high"              # high (orders, 90 days) | mid (visits) | low (any activity) | social (logins)
metric = "order"               # order | visit | login | any
at_risk_days = 30
dormant_days = 90
lost_days = 365

[quiet_hours]
# The SENDING window, not the quiet span: marketing goes out only between start and end, in each recipient's own
# time zone; outside it a send is deferred, never dropped. start = "08:00", end = "20:00" means quiet from 20:00 to
# 08:00 — what `winback quiet-hours set 20:00-08:00` says the other way round (the command wins over this table).
start = "08:00"                # when sending may START each day (not when quiet hours start)
end = "20:00"                  # when sending must STOP each day (not when quiet hours end)
# enabled = false              # no quiet hours: marketing may go out at any hour

# Channels: transport = "dryrun" (default) | "http" | "smtp" | "csv" | "aliyun" | "tencent" | "twilio" (SMS)
# | "sendgrid" | "mailgun" (email). Each has its own settings: docs/channels.md has one recipe per provider.
# dryrun sends nothing, so a --real launch on it is refused: set the channel's real transport first.
[channels.sms]
transport = "dryrun"
mode = "cn"                    # length rules: cn (signature + content + opt-out, 70/67) | gsm (GSM-7 160/153, UCS-2 70/67)
signature = "【品牌】"
opt_out_text = "拒收请回复R"
price = 0.04                   # per billed part
rate = 50                      # messages per second
# url = "https://sms.example.com/send"
# token_env = "WINBACK_SMS_TOKEN"
# retry_statuses = [503]       # only 5xx codes your provider documents as "not processed" (other 5xx: unknown)
# idempotency_header = "Idempotency-Key"   # only if your provider deduplicates on such a header
# body = '{{"to": "{{{{ to }}}}", "text": "{{{{ text }}}}", "id": "{{{{ message_id }}}}"}}'
# encoding = "form"            # http: json (default) | form;  auth = "bearer" (with token_env) | "basic" | "none"
# auth = "basic"               # with username_env / password_env
# Mainland China (approved templates: provider, provider_template, approved_text, [params] in the template):
# transport = "aliyun"         # access_key_id_env = "WINBACK_ALIYUN_KEY_ID", access_key_secret_env = "…", sign_name = "品牌"
# transport = "tencent"        # secret_id_env, secret_key_env, sdk_app_id = "1400…", sign_name = "品牌", region
# transport = "twilio"         # account_sid_env, auth_token_env, from = "+1…" (or messaging_service_sid), status_callback
# endpoint = "https://…"       # aliyun/tencent/twilio: the provider's public endpoint unless set (proxy, tests)

[channels.email]
transport = "dryrun"
from = "品牌 <hello@brand.example>"
unsubscribe_url = "https://brand.example/u/{{token}}"
# host = "127.0.0.1"
# port = 587
# security = "starttls"        # none | starttls | tls
# username_env = "WINBACK_SMTP_USER"
# password_env = "WINBACK_SMTP_PASSWORD"
# transport = "sendgrid"       # api_key_env = "SENDGRID_API_KEY"
# transport = "mailgun"        # api_key_env = "MAILGUN_API_KEY", domain = "mg.brand.example" (from must be on it)

[channels.push]
transport = "dryrun"

[channels.call]
transport = "csv"
path = "exports/call-list-{{campaign}}.csv"

[channels.gift]
transport = "csv"
path = "exports/gift-list-{{campaign}}.csv"

# Content rules for marketing SMS at aliyun/tencent (warnings; a real launch then needs --accept-warnings):
# [content_rules]
# opt_out_text = "拒收请回复R"
# allowed_link_domains = ["shop.example.com"]

# Provider callbacks in `winback serve` (docs/inbound.md "Provider callbacks"):
# [inbound.aliyun]
# token_env = "WINBACK_ALIYUN_CALLBACK_TOKEN"     # register https://HOST/callbacks/aliyun/receipts?token=…
# [inbound.tencent]
# token_env = "WINBACK_TENCENT_CALLBACK_TOKEN"
# [inbound.twilio]
# auth_token_env = "TWILIO_AUTH_TOKEN"
# public_url = "https://winback.example.com"
# [inbound.sendgrid]
# verification_key = "MFkw…"                     # the signed event webhook's public key
# [inbound.mailgun]
# signing_key_env = "MAILGUN_WEBHOOK_SIGNING_KEY"

# A saved column mapping for an export you import often: `winback import events FILE --mapping shop`, or Mapping on
# the console's import screen (`i`). Formats, filters and every setting: docs/importing.md "Saved mappings".
# [import.mappings.shop]
# kind = "order"                          # the kind of every row (as --kind)
# encoding = "gbk"                        # Excel's CSV on Chinese Windows
# date_format = "%Y/%m/%d %H:%M"          # how the time column is written (strptime codes)
# where = ["订单状态 != '已退款'"]         # rows to import: refunded orders are left out
# [import.mappings.shop.columns]          # file column = winback column
# "会员编号" = "user_id"
# "下单时间" = "at"
# "实付金额" = "amount"
'''


def default_config_text(name: str = "winback") -> str:
    return DEFAULT_CONFIG_TEXT.format(name=name)
