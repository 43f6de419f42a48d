"""UTC timestamps of the contract: one format, one parser.

Every timestamp a run writes is ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (UTC, at most microseconds).
``parse_utc_us`` is the only parser of that text in bakeoff: it checks the form *and* the date
(a 30 February or a month 13 match the pattern but are refused) and returns whole microseconds
since the Unix epoch, the unit of every timestamp column the publisher exports.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

PATTERN = r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"
_FORM = re.compile(PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US = 86_400 * 10**6


def parse_utc_us(text: str) -> int:
    """Microseconds since the epoch of a contract timestamp; ValueError when it is not one."""
    if not _FORM.match(text):
        raise ValueError(f"{text[:40]!r} is not a UTC timestamp like 2026-11-23T14:55:01.123456Z")
    frac = text[20:-1]
    try:
        dt = datetime(
            int(text[0:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13]),
            int(text[14:16]),
            int(text[17:19]),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise ValueError(f"{text[:40]!r} is not a real date and time ({exc})") from exc
    delta = dt - _EPOCH
    return (delta.days * _DAY_US + delta.seconds * 10**6) + (int(frac.ljust(6, "0")) if frac else 0)


def format_utc_us(us: int) -> str:
    """The contract text of a microsecond timestamp (always six fractional digits)."""
    dt = _EPOCH + timedelta(microseconds=us)
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T"
        f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}.{dt.microsecond:06d}Z"
    )
