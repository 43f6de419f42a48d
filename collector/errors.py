"""The collector's error tree. ``cli`` catches ``CollectorError`` in one place.

CollectorError               expected failure: one clear message, exit 1
 ├── ConfigError             bad cells file, flag or config file
 ├── IdentityError           system_id file unreadable or corrupt
 ├── GuardError              a reproducibility guard refused the run
 ├── EngineUnavailableError  an engine cannot be reached or started
 └── EngineError             a call failed; carries an ErrorKind
      ├── EngineConnectError
      │    └── EngineConnectionClosedError
      ├── EngineTimeoutError
      ├── EngineHTTPError
      ├── EngineProtocolError
      ├── EngineBadReplyError
      └── EngineDiedError
"""

from __future__ import annotations


class CollectorError(Exception):
    """Base of every expected failure; the message says what failed and what to do."""


class ConfigError(CollectorError):
    """A cells file, flag or config file is invalid."""


class IdentityError(CollectorError):
    """The system_id file cannot be read or is corrupt."""


class GuardError(CollectorError):
    """A reproducibility guard refused the run."""


class EngineUnavailableError(CollectorError):
    """An engine cannot be reached or started."""


class EngineError(CollectorError):
    """A request to an engine failed; ``kind`` is an ErrorKind value."""

    kind = "other"

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class EngineConnectError(EngineError):
    """The connection could not be set up (refused, DNS, reset before a response)."""

    kind = "connect"


class EngineConnectionClosedError(EngineConnectError):
    """A kept-alive connection the server had closed while it was idle.

    The request was written to a reused connection and the server disconnected (EOF or reset)
    without sending any response byte: it gave the connection up between the pool's last check
    and the write. Not a failed connect: ``collector.measure`` reopens at once, without the
    back-off and without counting a retry.
    """


class EngineTimeoutError(EngineError):
    """A connect, read or total timeout expired."""

    kind = "timeout"


class EngineHTTPError(EngineError):
    """The engine answered with an HTTP error status."""

    kind = "http"


class EngineProtocolError(EngineError):
    """The response could not be understood (malformed SSE or JSON)."""

    kind = "protocol"


class EngineBadReplyError(EngineError):
    """A reply carried a number the collector cannot record (usage, timings, token counts).

    Negative, non-integral where a count is required, not a number, non-finite, or beyond
    int64: the call fails with this kind and the run goes on.
    """

    kind = "bad_usage"


class EngineDiedError(EngineError):
    """The engine closed the stream mid-response."""

    kind = "engine_died"
