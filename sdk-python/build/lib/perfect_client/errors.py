"""Exceptions raised by the Perfect SDK.

``PerfectError`` is the root of everything the SDK raises on purpose. Two families sit beside it
because they must not be swallowed by a user's ``except Exception``:

* ``FatalWorkerError`` (a ``SystemExit``): configuration the worker cannot recover from, such as a
  rejected token. Left uncaught it ends the process with exit code 2 and no traceback.
* ``RunInterrupted`` (a ``BaseException``): control flow that stops a run at a task boundary
  (cancelled by a user, finished by the server, or the worker shutting down).
"""
from typing import Any, Optional

#: Longest exception message put in an event's ``error`` (the full text is in the logs).
MAX_ERROR_CHARS = 10000


class PerfectError(Exception):
    """Root of the ordinary errors raised by the Perfect SDK."""


class ServerUnreachable(PerfectError):
    """The server could not be reached (connection refused, DNS failure, timeout).

    Transports raise it for every network-level failure; the worker treats it as transient and
    retries with backoff.
    """


class ServerError(PerfectError):
    """The server answered with an HTTP status the caller did not expect.

    ``status`` is the HTTP status and ``body`` the decoded JSON answer (or ``None``).
    """

    def __init__(self, status, body=None, message=None):
        # type: (int, Any, Optional[str]) -> None
        self.status = status
        self.body = body
        super().__init__(message or "HTTP %d: %s" % (status, error_message(body)))


class FatalWorkerError(SystemExit):
    """A problem the worker cannot recover from by waiting; ends the process with exit code 2.

    It derives from ``SystemExit`` so that an uncaught one exits quietly with status 2 instead of a
    traceback, and so that a generic ``except Exception`` cannot turn it into a retry loop.
    ``message`` holds the human-readable reason (``str(err)`` returns it too).
    """

    def __init__(self, message):
        # type: (str) -> None
        super().__init__(2)
        self.message = message

    def __str__(self):
        return self.message


class TokenRejected(FatalWorkerError):
    """The server answered 401: the client's token (``PERFECT_TOKEN``) is wrong or missing."""


class RunsFailed(SystemExit):
    """``serve(..., exit_when_all_completed=True)`` stopped and the last run of at least one
    served flow FAILED: exits with status 1 so a cron or CI job sees it. ``message`` names them."""

    def __init__(self, message):
        # type: (str) -> None
        super().__init__(1)
        self.message = message

    def __str__(self):
        return self.message


class RunInterrupted(BaseException):
    """Stops a run at the next task boundary; the base of the SDK's control-flow exceptions.

    It is a ``BaseException`` so a flow's ``except Exception`` around a task call cannot swallow
    a cancellation.
    """


class RunCancelled(RunInterrupted):
    """A user cancelled the run; the worker reports ``run_cancelled``."""


class RunFinished(RunInterrupted):
    """The server already finished the run (409, or listed in ``finishedRunIds``); the worker
    stops it and drops its unsent events."""


class WorkerShutdown(RunInterrupted):
    """The worker is stopping (Ctrl-C, SIGTERM, fatal error); the run was reported FAILED."""


def error_message(body):
    # type: (Any) -> str
    """Extract ``error.message`` from a server error body, falling back to its text."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return "" if body is None else str(body)[:500]


def describe_exception(exc):
    # type: (BaseException) -> str
    """Format an exception as ``"TypeName: message"`` the way the wire protocol expects."""
    try:
        text = str(exc)
    except Exception:  # a broken __str__ must not hide the failure itself
        text = ""
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + "… [truncated]"
    name = type(exc).__name__
    return "%s: %s" % (name, text) if text else name
