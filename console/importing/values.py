"""Cell parsers for imports: phone, email, time, consent, time zone, amount.

Each parser is a callable that returns the normalised value or raises ``ValueError`` with a message an operator
can act on (the caller adds file, line and column). They are built once per import and keep small caches: an
import calls them millions of times, so each has a fast path for the common shape and falls back to the full
library (phonenumbers, email-validator, zoneinfo) for everything else — the fast paths accept exactly what the
slow paths accept.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from phonenumbers import PhoneNumberType

SMS_CAPABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_PHONE_JUNK = re.compile(r"[\s\-().\u00a0]")
_OTHER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail")


_SPREADSHEET_FLOAT = re.compile(r"\+?\d{6,15}\.0+")
_SCIENTIFIC = re.compile(r"\d(\.\d+)?[eE]\+?\d{1,2}")


class PhoneParser:
    """Parse a phone number against the workspace's default region; return E.164 of an SMS-capable number."""

    def __init__(self, region: str) -> None:
        self.region = region.upper()
        self._fast = None
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(self.region)
        if metadata is None:
            raise ValueError(f"{region!r} is not a phone region phonenumbers knows (e.g. CN, US, GB)")
        cc = metadata.country_code
        # Fast path only where one region owns the country code (+86 is China alone; +1 is shared) and the
        # mobile pattern is known: a number that matches it and no special-rate pattern is a valid mobile.
        mobile = metadata.mobile
        if (
            cc is not None
            and len(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc, ())) == 1
            and mobile is not None
            and mobile.national_number_pattern
        ):
            others = [getattr(metadata, name) for name in _OTHER_TYPES]
            others = [f"(?:{d.national_number_pattern})" for d in others if d and d.national_number_pattern]
            self._fast = (
                re.compile(rf"(?:\+{cc}|00{cc})?(\d+)"),
                re.compile(f"(?:{mobile.national_number_pattern})"),
                set(mobile.possible_length or ()),
                # One pattern for all special-rate types: fullmatch of an alternation is any one matching whole.
                re.compile("|".join(others)) if others else None,
                f"+{cc}",
            )

    def __call__(self, text: str) -> str:
        if not text.isascii():
            # Fullwidth digits and signs (+8613８１２３…, typed with a Chinese input method) are the ASCII ones
            # under NFKC; \d would match them as they are and store them unnormalised. Other scripts' digits
            # are left to phonenumbers, which reads them.
            text = unicodedata.normalize("NFKC", text)
            if not text.isascii():
                return self._slow(text)
        fast = self._fast
        if fast is not None:
            digits = _PHONE_JUNK.sub("", text) if not text.isdigit() else text
            m = fast[0].fullmatch(digits)
            if m is not None:
                nsn = m.group(1)
                if (
                    (not fast[2] or len(nsn) in fast[2])
                    and fast[1].fullmatch(nsn)
                    and (fast[3] is None or fast[3].fullmatch(nsn) is None)
                ):
                    return fast[4] + nsn
        return self._slow(text)

    def _slow(self, text: str) -> str:
        if _SPREADSHEET_FLOAT.fullmatch(text.strip()):
            # 13812345678.0: a spreadsheet or pandas read the column as numbers; the digits are all there.
            return self(text.strip().partition(".")[0])
        if _SCIENTIFIC.fullmatch(text.strip()):
            raise ValueError(f"{text!r} is in scientific notation, so its last digits are lost: Excel does this to "
                             "long numbers; format the phone column as Text in Excel and save the CSV again")
        try:
            number = phonenumbers.parse(text, self.region)
        except phonenumbers.NumberParseException:
            raise ValueError(f"{text!r} is not a phone number") from None
        if not phonenumbers.is_valid_number(number):
            where = "" if text.lstrip().startswith(("+", "00")) else f" for region {self.region}"
            raise ValueError(f"{text!r} is not a valid phone number{where}")
        kind = phonenumbers.number_type(number)
        if kind not in SMS_CAPABLE:
            name = {PhoneNumberType.FIXED_LINE: "a landline"}.get(kind, f"a {kind_name(kind)} number")
            raise ValueError(f"{text!r} is {name}, not a mobile number that can receive SMS")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def kind_name(kind: int) -> str:
    for name, value in vars(PhoneNumberType).items():
        if value == kind and name.isupper():
            return name.lower().replace("_", " ")
    return "non-mobile"


_LOCAL_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


class EmailParser:
    """Validate an address with email-validator (no DNS) and return its normalised form.

    Normalised as email-validator does it: the domain lower-cased (IDNA), the local part kept as written.
    The domain is checked once per distinct domain; plain ASCII local parts then skip the full validator.
    """

    def __init__(self) -> None:
        self._domains: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        local, at, domain = text.rpartition("@")
        if at and len(text) <= 254 and len(local) <= 64:
            known = self._domains.get(domain)
            if known is not None and _LOCAL_ATOM.fullmatch(local):
                return f"{local}@{known}"
        normalised = self._slow(text)
        if at:
            self._domains[domain] = normalised.rpartition("@")[2]
        return normalised

    @staticmethod
    def _slow(text: str) -> str:
        from email_validator import EmailNotValidError, validate_email

        try:
            return validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(f"{text!r} is not a valid email address ({exc})") from None


CONSENT_WORDS = {
    "yes": "granted", "y": "granted", "1": "granted", "true": "granted", "t": "granted", "是": "granted",
    "no": "withdrawn", "n": "withdrawn", "0": "withdrawn", "false": "withdrawn", "f": "withdrawn", "否": "withdrawn",
    # As Chinese CRM exports write them, and number columns as pandas writes them.
    "同意": "granted", "已同意": "granted", "不同意": "withdrawn", "未同意": "withdrawn", "拒绝": "withdrawn",
    "1.0": "granted", "0.0": "withdrawn",
}


def parse_consent(text: str) -> str:
    """yes/no/1/0/true/false/是/否 → 'granted' | 'withdrawn'."""
    status = CONSENT_WORDS.get(text.strip().lower())
    if status is None:
        raise ValueError(f"{text!r} is not a consent value (yes/no, 1/0, true/false, 是/否, 同意/不同意)")
    return status


_ZONES: set[str] | None = None


def parse_timezone(text: str) -> str:
    """An IANA time zone name, as written (Asia/Shanghai)."""
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    name = text.strip()
    if name in _ZONES:
        return name
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{text!r} is not an IANA time zone (e.g. Asia/Shanghai, Europe/London)") from None


_AMOUNT_JUNK = re.compile(r"[,\s¥￥$€£]|^(?:CNY|RMB|USD|EUR)|元$")


_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])")


AMOUNT_FORMS = "1234.50, 1,234.50, ¥1,234.50 or 12元"


def parse_amount(text: str) -> float:
    """A money amount: 12.5, '1,234.50', '¥12.50', '12元' — and their fullwidth forms ('￥2，000.00', '１２元'),
    as a Chinese Windows export writes them (GBK has no ¥, only ￥; an input method types ， and digits wide)."""
    written = text   # messages quote the cell as the file has it
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)   # ￥ → ¥, ， → ',', １ → 1; 元 and other text unchanged
    try:
        value = float(text)
    except ValueError:
        if "," in text and not _THOUSANDS.search(text):
            # 1,5 or 1.299,00: a decimal comma (European Excel). Dropping the comma would read 15 or 1.299.
            raise ValueError(f"{written!r} has a comma that is not a thousands separator (a decimal comma?): "
                             "write amounts as 1299.00 or 1,299.00") from None
        try:
            value = float(_AMOUNT_JUNK.sub("", text))
        except ValueError:
            raise ValueError(f"{written!r} is not an amount (write e.g. {AMOUNT_FORMS})") from None
    if not math.isfinite(value):
        raise ValueError(f"{written!r} is not an amount (write e.g. {AMOUNT_FORMS})")
    return value


_OTHER_TIME = re.compile(
    r"\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:(?:\s+|T|\s*日\s*)(\d{1,2})\s*[:：时點点]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2})(?:\.(\d{1,6}))?\s*秒?|\s*分)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*"
)
_EPOCH = datetime(1970, 1, 1)
_BUCKET = 900  # offsets are looked up per quarter hour of wall time: every real zone changes on one
_HOUR_KEY = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:")
MISSING = -(10**15)  # far below any valid time: `hours.get(k, MISSING) + MINUTES.get(m, MISSING) < 0` is a miss
MINUTES: dict[str, int] = {f"{m:02d}:{s:02d}": m * 60 + s for m in range(60) for s in range(60)}
MINUTES.update({f"{m:02d}": m * 60 for m in range(60)})


class TimeParser:
    """Parse a time to UTC epoch seconds; naive times are wall times in the workspace zone.

    Accepts ISO 8601 (2026-11-25T09:00:00+08:00, 2026-11-25 09:00, …Z), the Excel and Chinese forms
    (2026/11/25 9:00, 2026.11.25, 2026年11月25日 9:00, 2026年11月25日9时30分), a bare date (midnight), and
    epoch seconds or milliseconds.
    """

    def __init__(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)
        self._offsets: dict[int, int] = {}
        self._iso_first = True
        # "YYYY-MM-DD HH:" → UTC seconds of that wall hour, for hours with one UTC offset throughout. With
        # MINUTES ("MM:SS" or "MM" → seconds) it lets a bulk import turn the usual shape into epoch seconds
        # with two dictionary look-ups; __call__ fills it.
        self.hours: dict[str, int] = {}
        self._seen_once: set[str] = set()  # hours seen once: learnt on the second sighting, not the first

    def __call__(self, text: str) -> int:
        known = self.hours.get(text[:14], MISSING) + MINUTES.get(text[14:], MISSING)
        if known >= 0:
            return known
        # Try the shape that worked last time first: a file almost always uses one format throughout.
        first, second = (datetime.fromisoformat, self._other) if self._iso_first else (self._other, datetime.fromisoformat)
        try:
            dt = first(text)
        except ValueError:
            try:
                dt = second(text)
            except ValueError:
                raise ValueError(_not_a_time(text)) from None
            self._iso_first = not self._iso_first
        if dt is None:  # epoch number
            ts = self._epoch(text)
        elif dt.tzinfo is not None:
            ts = int(dt.timestamp())
        else:
            ts = self._wall_to_utc(dt)
            if len(text) in (16, 19) and text[14:] in MINUTES and _HOUR_KEY.fullmatch(text[:14]):
                key = text[:14]
                if key in self._seen_once and key not in self.hours:
                    self._remember_hour(text, ts - MINUTES[text[14:]])
                elif len(self._seen_once) < 200_000:
                    self._seen_once.add(key)
        # Refuse what cannot be real activity: usually a day/month mix-up or a wrong column.
        if not 0 <= ts < 7258118400:
            raise ValueError(f"{text!r} is outside 1970–2200")
        return ts

    def learn_hours(self, keys) -> None:
        """Fill the hour cache for these "YYYY-MM-DD HH:" keys (others are ignored), so that a column of
        times can be looked up at once rather than learnt one call at a time."""
        for key in keys:
            if key not in self.hours and _HOUR_KEY.fullmatch(key) and len(self.hours) < 200_000:
                try:
                    start = self._wall_to_utc(datetime.fromisoformat(key[:13] + ":00"))
                except ValueError:
                    continue
                if start >= 0 and start + 3599 < 7258118400:
                    self._remember_hour(key, start)

    def _remember_hour(self, text: str, hour_ts: int) -> None:
        start = self._wall_to_utc(datetime.fromisoformat(text[:13] + ":00"))
        end = self._wall_to_utc(datetime.fromisoformat(text[:13] + ":59:59"))
        if start == hour_ts and end == start + 3599 and len(self.hours) < 200_000:
            self.hours[text[:14]] = start

    def _wall_to_utc(self, dt: datetime) -> int:
        wall = (dt.toordinal() - 719163) * 86400 + dt.hour * 3600 + dt.minute * 60 + dt.second
        bucket = wall // _BUCKET
        offset = self._offsets.get(bucket)
        if offset is None:
            start = _EPOCH + timedelta(seconds=bucket * _BUCKET)
            utcoffset = start.replace(tzinfo=self.zone).utcoffset()
            assert utcoffset is not None  # the datetime is aware: a ZoneInfo always gives an offset
            offset = int(utcoffset.total_seconds())
            self._offsets[bucket] = offset
        return wall - offset

    def _other(self, text: str) -> datetime | None:
        m = _OTHER_TIME.fullmatch(text)
        if m is None:
            stripped = text.strip()
            if stripped.isdigit() and len(stripped) in (9, 10, 12, 13):
                return None
            raise ValueError(text)
        y, mo, d, h, mi, s, frac, tz = m.groups()
        try:
            dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
        except ValueError:
            raise ValueError(text) from None
        if tz:
            dt = datetime.fromisoformat(dt.isoformat() + ("+00:00" if tz == "Z" else tz))
        return dt

    @staticmethod
    def _epoch(text: str) -> int:
        value = int(text.strip())
        return value // 1000 if value >= 10**11 else value


_EXCEL_SERIAL = re.compile(r"\d{5}(\.\d+)?")
_DAY_FIRST = re.compile(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}(\s.*)?")


def _not_a_time(text: str) -> str:
    """Why *text* is refused as a time, with the likely cause for the two shapes spreadsheets produce."""
    stripped = text.strip()
    if _EXCEL_SERIAL.fullmatch(stripped) and 20000 <= float(stripped) < 80000:
        return (f"{text!r} looks like an Excel date serial number, not a time: format the column as a date "
                "(yyyy-mm-dd hh:mm) in Excel before saving the CSV")
    if _DAY_FIRST.fullmatch(stripped):
        # Rewriting a whole export by hand is no answer: a saved mapping's date_format reads the file's own shape.
        sep = next((c for c in stripped if c in "/.-"), "/")
        shape = f"%d{sep}%m{sep}%Y" + (" %H:%M" if " " in stripped else "")
        return (f"{text!r} is ambiguous (day/month or month/day?): write the year first, e.g. 2026-11-25 09:00, or "
                f"read the file with a saved mapping's date_format, e.g. date_format = \"{shape}\" (docs/importing.md)")
    return (f"{text!r} is not a time (use e.g. 2026-11-25 09:00 or 2026-11-25T09:00:00+08:00, or a saved "
            "mapping's date_format: docs/importing.md)")
