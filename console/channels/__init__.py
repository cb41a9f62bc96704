"""Channels: one small contract (see base.py) and its transports — dry-run, SMTP, HTTP, CSV export.

`open_channel(name, config, campaign=…, dry_run=…)` builds the transport named in `[channels.<name>]`;
a dry run always gets the dry-run transport, which still validates and costs like the real one. A real send on a
channel whose transport is `dryrun` is refused (ChannelError): it would be recorded as sent, consume caps and count
in outcomes while nothing left the machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

from console.channels.base import (
    DEFERRED,
    FAILED,
    SENT,
    UNKNOWN,
    Channel,
    ChannelError,
    Message,
    Result,
    validate_address,
)
from console.config import Config, channel_price, setting_error, setting_place
from console.errors import ChannelSecretError, ChannelSettingError

# What the channel functions read settings from: the workspace's Config, or a bare {channel: settings} table
# (the channel tests open transports that way, without a winback.toml).
ChannelConfig: TypeAlias = "Config | Mapping[str, Mapping[str, Any]]"

TRANSPORTS = ("dryrun", "http", "smtp", "csv", "aliyun", "tencent", "twilio", "sendgrid", "mailgun")

__all__ = ["DEFERRED", "FAILED", "SENT", "UNKNOWN", "Channel", "ChannelError", "Message", "Result", "open_channel",
           "validate_address", "channel_settings", "dry_run_transport_refusal", "transport_of"]


def channel_settings(config: ChannelConfig, name: str) -> dict[str, Any]:
    """Settings of channel `name` from the config ({} when not configured: dry-run), with its price resolved the
    way the plan and the budget resolve it (console.config.channel_price)."""
    if not isinstance(config, Config):
        return dict(config.get(name, {}))
    settings = config.channel(name)
    settings["price"] = channel_price(config, name)
    return settings


# What a real send on each kind of channel usually goes through: the one-line fix names it.
SUGGESTED_TRANSPORT = {"email": "smtp", "call": "csv", "gift": "csv"}


def _suggested(name: str, config: ChannelConfig) -> str:
    """The transport the fix names: for SMS in a mainland-China workspace the platforms operators there have
    (Aliyun, Tencent Cloud); elsewhere Twilio or the generic HTTP gateway."""
    if name == "sms":
        region = config.default_region if isinstance(config, Config) else "CN"
        return '"aliyun" (or "tencent")' if region.upper() == "CN" else '"twilio" (or "http")'
    return f'"{SUGGESTED_TRANSPORT.get(name, "http")}"'


def dry_run_transport_refusal(name: str, config: ChannelConfig) -> str:
    """Why a real send on channel `name` (whose transport is dryrun) is refused, with the fix in one line."""
    suggested = _suggested(name, config)
    where = config.path if isinstance(config, Config) else None
    file = where.name if where else "winback.toml (`winback init` writes one)"
    return (f"channel {name} uses transport dryrun, which sends nothing: set transport = {suggested} in "
            f"[channels.{name}] of {file} — see docs/channels.md")


def open_channel(name: str, config: ChannelConfig, *, campaign: str = "campaign", dry_run: bool = True) -> Channel:
    """The transport for channel `name` as configured; the dry-run transport when `dry_run`.

    Every real send (launch, resume, run-due, the pre-launch checks) comes through here, so this is where a real
    send on the dry-run transport is refused, and where a setting the transport finds missing or wrong while it is
    built (ChannelSettingError) becomes winback.toml's ConfigError — file, line, key, what to write (exit 2) —
    before anything is claimed. A secret missing from the environment stays a ChannelError (the environment's
    fault), told with the line of winback.toml that names the variable.
    """
    settings = channel_settings(config, name)
    transport = str(settings.get("transport", "dryrun")).lower()
    if transport not in TRANSPORTS:
        # a bad winback.toml value (ConfigError, exit 2, with its line), not a channel that cannot be reached
        raise setting_error(config if isinstance(config, Config) else None, f"channels.{name}", "transport",
                            f"{transport!r}; choose one of {', '.join(TRANSPORTS)}")
    if not dry_run and transport == "dryrun":
        raise ChannelError(dry_run_transport_refusal(name, config))
    if dry_run:
        from console.channels.dryrun import DryRunChannel

        return DryRunChannel(name, settings)
    if not isinstance(config, Config):   # a bare settings table: no file or line to name
        return _build(name, transport, settings, config, campaign)
    try:
        return _build(name, transport, settings, config, campaign)
    except ChannelSettingError as exc:
        # winback.toml's mistake, found before anything is claimed or sent: said with its file and line (exit 2)
        table, key = _setting_path(name, exc.key)
        raise setting_error(config, table, key, exc.problem, missing=exc.missing) from None
    except ChannelSecretError as exc:
        if exc.key is None:
            raise
        # the environment's, not the file's: which variable to set, and where winback.toml names it
        table, key = _setting_path(name, exc.key)
        place = setting_place(config, table, key)
        raise ChannelSecretError(f"environment variable {exc.env} {exc.problem} ({place}: [{table}] {key} names "
                                 "it; nothing was sent)", env=exc.env, key=exc.key, problem=exc.problem) from None


def _setting_path(name: str, key: str) -> tuple[str, str]:
    """('channels.sms', 'token_env') for key 'token_env' of channel sms; ('channels.sms.headers', 'X-Key') for
    'headers.X-Key'."""
    within, _, last = key.rpartition(".")
    return (f"channels.{name}.{within}" if within else f"channels.{name}"), last


def _build(name: str, transport: str, settings: dict[str, Any], config: ChannelConfig, campaign: str) -> Channel:
    """The real transport *transport* for channel *name*; its settings are checked as it is built."""
    if transport == "smtp":
        from console.channels.smtp import SmtpChannel

        return SmtpChannel(name, settings)
    if transport == "http":
        from console.channels.http import HttpChannel

        return HttpChannel(name, settings)
    if transport == "aliyun":   # issue 13: mainland China SMS, signed requests, approved templates
        from console.channels.aliyun import AliyunChannel

        return AliyunChannel(name, settings)
    if transport == "tencent":
        from console.channels.tencent import TencentChannel

        return TencentChannel(name, settings)
    if transport == "twilio":   # Messages API, form-encoded, HTTP Basic
        from console.channels.twilio import TwilioChannel

        return TwilioChannel(name, settings)
    if transport == "sendgrid":   # v3 Mail Send, JSON, Bearer
        from console.channels.sendgrid import SendGridChannel

        return SendGridChannel(name, settings)
    if transport == "mailgun":    # Messages API, multipart form, Basic api:KEY
        from console.channels.mailgun import MailgunChannel

        return MailgunChannel(name, settings)
    from console.channels.csvfile import CsvChannel

    base = Path(config.path).parent if isinstance(config, Config) and config.path else None
    return CsvChannel(name, settings, campaign=campaign, base_dir=base)


def transport_of(config: ChannelConfig, name: str) -> str:
    """The transport channel `name` is configured with, lower-cased ('dryrun' when none)."""
    return str(channel_settings(config, name).get("transport", "dryrun")).lower()


def is_real_transport(name: str, config: ChannelConfig) -> bool:
    return transport_of(config, name) != "dryrun"
