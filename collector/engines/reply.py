"""Numbers from engine replies, checked at the adapter edge before anything uses them.

Usage, timings and token counts come from the engine and go into the ledger. Each one the
collector reads must be recordable and storable: a count is an integer from 0 to int64's
maximum (an integral float such as ``5.0`` is taken as 5), a duration or rate a finite number
of at least 0. Anything else — negative, fractional where a count is required, not a number,
NaN or infinite (Python's JSON parser accepts ``NaN``, ``Infinity`` and ``1e400``), or beyond
int64 — raises ``EngineBadReplyError`` (``error_kind`` ``bad_usage``): that call fails, the
run goes on. ``None`` (absent) is always fine.
"""

from __future__ import annotations

import math
from typing import Any

from collector.errors import EngineBadReplyError

INT64_MAX = 2**63 - 1


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def reply_count(value: object, name: str, where: str) -> int | None:
    """A token or event count from a reply: ``None`` when absent, else an int in int64."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= INT64_MAX:
            return value
    elif (
        isinstance(value, float)
        and math.isfinite(value)
        and value.is_integer()
        and 0 <= value <= INT64_MAX
    ):
        return int(value)
    raise EngineBadReplyError(
        f"{where}: {name} is {_shown(value)}, not a count (an integer from 0 to 2^63-1); "
        "the engine's reply cannot be recorded, so this call is failed"
    )


def reply_number(value: object, name: str, where: str) -> float | None:
    """A duration (ms, ns) or rate from a reply: ``None`` when absent, else a finite float ≥ 0."""
    if value is None:
        return None
    number: float | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= INT64_MAX:
            number = float(value)
    elif isinstance(value, float):
        number = value
    if number is None or not math.isfinite(number) or number < 0:
        raise EngineBadReplyError(
            f"{where}: {name} is {_shown(value)}, not a finite number of at least 0; "
            "the engine's reply cannot be recorded, so this call is failed"
        )
    return number


def checked_usage(usage: dict[str, Any], where: str) -> dict[str, Any]:
    """An OpenAI-style ``usage`` object with every count the collector reads checked.

    ``prompt_tokens``, ``completion_tokens``, ``completion_tokens_details.reasoning_tokens``
    and ``prompt_tokens_details.cached_tokens`` are returned as ints (or ``None``); other keys
    are kept as they are (nothing else of ``usage`` is recorded).
    """
    out = dict(usage)
    for key in ("prompt_tokens", "completion_tokens"):
        if key in out:
            out[key] = reply_count(out[key], f"usage.{key}", where)
    for key, inner in (
        ("completion_tokens_details", "reasoning_tokens"),
        ("prompt_tokens_details", "cached_tokens"),
    ):
        details = out.get(key)
        if isinstance(details, dict) and inner in details:
            count = reply_count(details[inner], f"usage.{key}.{inner}", where)
            out[key] = {**details, inner: count}
    return out
