"""`winback campaign reconcile NAME`: ask the provider's query API about `unknown` rows and settle them.

A row is `unknown` when its request may have reached the provider and no clear answer came back (a read timeout
after the body left, a cut connection, a 5xx). winback never resends it blindly (no provider deduplicates for us).
The provider's own records settle it, one recipient at a time:

- Aliyun `QuerySendDetails` (PhoneNumber, SendDate yyyyMMdd in China time, PageSize ≤ 50, CurrentPage, BizId when
  we have it; one number and one day per call, 30 days back): SendStatus 3 delivered, 2 failed (ErrCode), 1 sent
  (waiting for its receipt). A record is ours when its OutId is one of the campaign's message ids, or — no BizId,
  no OutId of ours — it used the campaign's template code and was sent at or after the request left.
- Tencent `PullSmsSendStatusByPhoneNumber` (SmsSdkAppId, PhoneNumber, BeginTime, EndTime, Offset, Limit ≤ 100):
  its status reports (ReportStatus SUCCESS delivered, FAIL failed), matched by SerialNo or SessionContext, else by
  time. Tencent lists a message only once its report came back, so a row younger than `reconcile_after` seconds
  (channel setting, default 3600 for Tencent) without a report is left `unknown` ("too early"), never not-sent.
- Twilio: `GET …/Messages/{Sid}.json` when the MessageSid was stored (404: no record), else the list
  `GET …/Messages.json?To=…&DateSent>=…` (from our sender, created at or after the request left).

Settled rows go through the ledger (console/campaigns/ledger.settle_unknown): sent, delivered or failed. Rows the
provider has no record of stay `unknown` with reason `no_provider_record` (ledger.mark_no_record) — certainly not
received, yet not resent by reconcile itself: `--requeue` (or `winback campaign requeue --not-sent FILE`) puts
them back to planned through console/campaigns/reconcile.requeue_not_sent, and `resume` sends each once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypedDict
from urllib.parse import urlencode

import httpx
import sqlite_utils

from console import audit, templates
from console.campaigns import ledger, model
from console.campaigns.ledger import SendState
from console.campaigns.reconcile import NotSent, requeue_not_sent
from console.channels import aliyun as aliyun_channel
from console.channels import open_channel
from console.channels import tencent as tencent_channel
from console.channels.base import AmbiguousFailure, Channel, PermanentFailure, TemporaryFailure, Unreachable
from console.channels.provider_batch import provider_number
from console.clock import now_ts
from console.config import Config
from console.errors import BadInput, WinbackError
from storage.tx import immediate

CHINA = 8 * 3600            # Aliyun's SendDate / SendDate strings are China time (UTC+8, no DST)
SKEW = 120                  # seconds a provider's clock may be behind ours when matching by time
DEFAULT_AFTER = {"tencent": 3600}   # seconds to wait for a status report before "no report" means "not sent"
DELIVERED, SENT, FAILED = "delivered", "sent", "failed"
NO_RECORD, TOO_EARLY, ERROR = "no_record", "too_early", "error"


class QueryFailed(WinbackError):
    """The provider's query API refused or failed (the rows stay `unknown`)."""

    exit_code = 1


@dataclass
class Pending:
    """One `unknown` row to ask about."""

    send_id: int
    run: int
    address: str
    provider_id: str | None
    message_id: str | None
    handed_at: int


@dataclass
class Finding:
    verdict: str                 # delivered | sent | failed | no_record | too_early | error
    provider_id: str | None = None
    detail: str | None = None


@dataclass
class Context:
    message_ids: set[str]        # the campaign's message ids, without <>
    codes: set[str]              # the approved template codes / IDs of its templates
    now: int
    after: int                   # reconcile_after: seconds a missing report is still "too early"


class ReconcileDict(TypedDict):
    """ReconcileResult.as_dict: `winback campaign reconcile --json` (rows per verdict, 0 when none)."""
    campaign: str
    asked: int
    sent: int
    delivered: int
    failed: int
    no_record: int
    too_early: int
    error: int
    errors: list[str]
    requeued: int
    status: str


@dataclass
class ReconcileResult:
    campaign: str
    asked: int = 0
    counts: dict[str, int] = field(default_factory=dict)   # verdict → rows
    errors: list[str] = field(default_factory=list)
    requeued: int = 0
    status: str = ""

    def as_dict(self) -> ReconcileDict:
        n = self.counts.get
        return {"campaign": self.campaign, "asked": self.asked, "sent": n(SENT, 0), "delivered": n(DELIVERED, 0),
                "failed": n(FAILED, 0), "no_record": n(NO_RECORD, 0), "too_early": n(TOO_EARLY, 0),
                "error": n(ERROR, 0), "errors": self.errors, "requeued": self.requeued, "status": self.status}


# -- the service --------------------------------------------------------------------------------------------------
def reconcile(db: sqlite_utils.Database, config: Config, name: str, *, requeue: bool = False) -> ReconcileResult:
    """Ask the channel's provider about every `unknown` row of the campaign's real runs; settle what it knows
    (one transaction, audited `campaign.reconcile`); with `requeue`, put the rows it has no record of back to
    planned (console.campaigns.reconcile.requeue_not_sent, per run). Nothing is sent here."""
    campaign = model.get(db, name)
    rows = [Pending(*r) for r in db.execute(
        f"SELECT id, run, address, provider_id, message_id, COALESCE(handed_at, claimed_at, updated_at) "
        f"FROM sends WHERE campaign_id = ? AND status = '{SendState.UNKNOWN}' AND dry_run = 0 ORDER BY id",
        [campaign.id])]
    result = ReconcileResult(campaign.name, status=ledger.campaign_status(db, campaign.id).value)
    if not rows:
        return result
    channel = open_channel(campaign.channel, config, campaign=campaign.name, dry_run=False)
    try:
        ask = _asker(channel)
        ctx = Context(
            message_ids={str(m).strip("<>") for (m,) in db.execute(
                "SELECT message_id FROM sends WHERE campaign_id = ? AND message_id IS NOT NULL", [campaign.id])},
            codes=_codes(db, campaign), now=now_ts(),
            after=int(channel.settings.get("reconcile_after", DEFAULT_AFTER.get(channel.transport, 0))))
        findings: dict[int, Finding] = {}
        for row in rows:
            finding = _safely(ask, channel, row, ctx)
            findings[row.send_id] = finding
            if finding.verdict == ERROR and finding.detail and finding.detail.startswith("unreachable"):
                break   # the provider cannot be reached: asking about the others would only wait again
    finally:
        channel.close()
    result.asked = len(findings)
    for finding in findings.values():
        result.counts[finding.verdict] = result.counts.get(finding.verdict, 0) + 1
        if finding.verdict == ERROR and finding.detail and finding.detail not in result.errors:
            result.errors.append(finding.detail)
    now = now_ts()
    settle = [(sid, SendState(f.verdict), f.provider_id, f.detail) for sid, f in findings.items()
              if f.verdict in (SENT, DELIVERED, FAILED)]
    never = [sid for sid, f in findings.items() if f.verdict == NO_RECORD]
    with immediate(db):
        ledger.settle_unknown(db, settle, now)
        ledger.mark_no_record(db, never, now)
        audit.record(db, "campaign.reconcile", campaign=campaign.name, transport=channel.transport,
                     **{k: v for k, v in result.as_dict().items() if k not in ("campaign", "status", "requeued")})
    if requeue and never:
        by_run: dict[int, list[NotSent]] = {}
        for row in rows:
            if row.send_id in never and row.message_id:
                by_run.setdefault(row.run, []).append(NotSent(row.message_id, 0))
        for run, entries in sorted(by_run.items()):
            done = requeue_not_sent(db, campaign.name, entries, source=f"{channel.transport} query API", run=run)
            result.requeued += done.requeued
    result.status = ledger.campaign_status(db, campaign.id).value
    return result


def _codes(db: sqlite_utils.Database, campaign: model.Campaign) -> set[str]:
    out = set()
    for variant in campaign.variants:
        try:
            approved = templates.get(db, variant.template).approved
        except WinbackError:
            continue
        if approved is not None:
            out.add(str(approved.code))
    return out


def _asker(channel: Channel) -> Any:
    asks = {"aliyun": _ask_aliyun, "tencent": _ask_tencent, "twilio": _ask_twilio}
    ask = asks.get(channel.transport)
    if ask is None:
        raise BadInput(f"channel {channel.name} sends through {channel.transport!r}, which has no query API winback "
                       "knows (aliyun, tencent, twilio): settle its unknown recipients from the provider's records "
                       "with `winback campaign requeue NAME --not-sent FILE`; nothing was changed")
    return ask


def _safely(ask: Any, channel: Channel, row: Pending, ctx: Context) -> Finding:
    """One question; a failed question leaves the row `unknown` and says why (never guessed either way)."""
    try:
        return ask(channel, row, ctx)
    except Unreachable as exc:
        return Finding(ERROR, detail=f"unreachable: {exc}")
    except (AmbiguousFailure, TemporaryFailure, PermanentFailure, QueryFailed) as exc:
        return Finding(ERROR, detail=str(exc)[:300])
    except httpx.HTTPError as exc:
        return Finding(ERROR, detail=f"{type(exc).__name__}: {exc}"[:300])


def _no_record(row: Pending, ctx: Context) -> Finding:
    if ctx.now - row.handed_at < ctx.after:
        return Finding(TOO_EARLY, detail=f"no report yet; ask again after {ctx.after} s")
    return Finding(NO_RECORD)


# -- Aliyun ---------------------------------------------------------------------------------------------------------
def _ask_aliyun(channel: Any, row: Pending, ctx: Context) -> Finding:
    phone = provider_number(row.address)
    days = dict.fromkeys(_china_day(t) for t in (row.handed_at, row.handed_at + 600))   # a send just before midnight
    mine: list[dict[str, Any]] = []
    for day in days:
        page = 1
        while True:
            params = {"PhoneNumber": phone, "SendDate": day, "PageSize": "50", "CurrentPage": str(page)}
            if row.provider_id:
                params["BizId"] = row.provider_id
            body = urlencode(params).encode("utf-8")
            headers = aliyun_channel.sign_request(channel.key_id, channel.secret, action="QuerySendDetails", host=channel.host,
                                   body=body, query={})
            status, reply, text = channel.post(str(channel.url.copy_with(path="/")), body, headers)
            if status != 200 or not isinstance(reply, dict) or reply.get("Code") != "OK":
                got = reply.get("Code") if isinstance(reply, dict) else None
                said = reply.get("Message") if isinstance(reply, dict) else text
                raise QueryFailed(f"Aliyun QuerySendDetails: {got or f'HTTP {status}'}: {said}")
            dtos = (reply.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
            mine.extend(d for d in dtos if isinstance(d, dict) and _aliyun_ours(d, row, ctx))
            if not dtos or page * 50 >= int(reply.get("TotalCount") or 0):
                break
            page += 1
    if not mine:
        return _no_record(row, ctx)
    best = max(mine, key=lambda d: int(d.get("SendStatus") or 0))
    state = {3: DELIVERED, 2: FAILED}.get(int(best.get("SendStatus") or 1), SENT)
    return Finding(state, provider_id=row.provider_id,
                   detail=f"{best.get('ErrCode')} (Aliyun QuerySendDetails)" if state == FAILED else None)


def _aliyun_ours(dto: dict[str, Any], row: Pending, ctx: Context) -> bool:
    if row.provider_id:
        return True   # the query was narrowed to our BizId
    if str(dto.get("OutId") or "") in ctx.message_ids:
        return True
    sent = _china_ts(str(dto.get("SendDate") or ""))
    return str(dto.get("TemplateCode")) in ctx.codes and sent is not None and sent >= row.handed_at - SKEW


def _china_day(ts: int) -> str:
    return datetime.fromtimestamp(ts + CHINA, UTC).strftime("%Y%m%d")


def _china_ts(text: str) -> int | None:
    try:
        return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()) - CHINA
    except ValueError:
        return None


# -- Tencent --------------------------------------------------------------------------------------------------------
def _ask_tencent(channel: Any, row: Pending, ctx: Context) -> Finding:
    reports: list[dict[str, Any]] = []
    offset = 0
    while True:
        payload = {"SmsSdkAppId": channel.app_id, "PhoneNumber": row.address, "BeginTime": row.handed_at - SKEW,
                   "EndTime": ctx.now + SKEW, "Offset": offset, "Limit": 100}
        body = json.dumps(payload).encode("utf-8")
        headers = tencent_channel.sign_request(channel.secret_id, channel.secret_key, action="PullSmsSendStatusByPhoneNumber",
                               host=channel.host, region=channel.region, body=body)
        _status, reply, text = channel.post(str(channel.url.copy_with(path="/")), body, headers)
        response = reply.get("Response") if isinstance(reply, dict) else None
        if not isinstance(response, dict):
            raise QueryFailed(f"Tencent PullSmsSendStatusByPhoneNumber: the reply has no Response: {text}")
        if isinstance(response.get("Error"), dict):
            err = response["Error"]
            raise QueryFailed(f"Tencent PullSmsSendStatusByPhoneNumber: {err.get('Code')}: {err.get('Message')}")
        got = [r for r in response.get("PullSmsSendStatusSet") or [] if isinstance(r, dict)]
        reports.extend(got)
        if len(got) < 100:
            break
        offset += 100
    ours = [r for r in reports if (row.provider_id and r.get("SerialNo") == row.provider_id)
            or str(r.get("SessionContext") or "") in ctx.message_ids]
    ours = ours or [r for r in reports if not row.provider_id]
    if not ours:
        return _no_record(row, ctx)
    report = next((r for r in ours if r.get("ReportStatus") == "SUCCESS"), ours[0])
    ok = report.get("ReportStatus") == "SUCCESS"
    return Finding(DELIVERED if ok else FAILED, provider_id=str(report.get("SerialNo") or "") or None,
                   detail=None if ok else f"{report.get('Description')} (Tencent status report)")


# -- Twilio ---------------------------------------------------------------------------------------------------------
_TWILIO_STATES = {"delivered": DELIVERED, "undelivered": FAILED, "failed": FAILED, "canceled": NO_RECORD}


def _ask_twilio(channel: Any, row: Pending, ctx: Context) -> Finding:
    base = channel.url.rsplit(".json", 1)[0]   # …/Accounts/{AccountSid}/Messages
    if row.provider_id:
        response = channel.client.get(f"{base}/{row.provider_id}.json")
        if response.status_code == 404:
            return Finding(NO_RECORD)
        return _twilio_finding(_twilio_json(response), row)
    day = datetime.fromtimestamp(row.handed_at - SKEW, UTC).strftime("%Y-%m-%d")
    response = channel.client.get(f"{base}.json", params={"To": row.address, "DateSent>": day, "PageSize": 100})
    messages = _twilio_json(response).get("messages") or []
    for message in messages:
        if not isinstance(message, dict):
            continue
        if channel.sender and message.get("from") not in (channel.sender, None):
            continue
        created = _rfc2822(str(message.get("date_created") or ""))
        if created is not None and created >= row.handed_at - SKEW:
            return _twilio_finding(message, row)
    return _no_record(row, ctx)


def _twilio_json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise QueryFailed(f"Twilio message lookup: HTTP {response.status_code}: {response.text[:200]}")
    try:
        data = response.json()
    except ValueError as exc:
        raise QueryFailed(f"Twilio message lookup: not JSON: {response.text[:200]}") from exc
    if not isinstance(data, dict):
        raise QueryFailed("Twilio message lookup: not a JSON object")
    return data


def _twilio_finding(message: dict[str, Any], row: Pending) -> Finding:
    state = _TWILIO_STATES.get(str(message.get("status")), SENT)
    detail = f"{message.get('error_code')}: {message.get('error_message')}" if state == FAILED else None
    return Finding(state, provider_id=str(message.get("sid") or "") or row.provider_id, detail=detail)


def _rfc2822(text: str) -> int | None:
    try:
        return int(parsedate_to_datetime(text).timestamp())
    except (TypeError, ValueError):
        return None


def counts_line(result: ReconcileResult, names: Iterable[str] = (SENT, DELIVERED, FAILED, NO_RECORD, TOO_EARLY,
                                                                  ERROR)) -> str:
    """'sent 2, delivered 5, no record 1' — the non-zero verdicts, for people."""
    return ", ".join(f"{n.replace('_', ' ')} {result.counts[n]:,}" for n in names if result.counts.get(n))


__all__ = ["Finding", "Pending", "QueryFailed", "ReconcileDict", "ReconcileResult", "counts_line", "reconcile"]
