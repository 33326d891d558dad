"""Turn ``get_logger()`` records and ``print()`` output inside a run into ``log`` events.

Routing is decided per write/record from the context variables of the calling thread, so two runs
executing at once never see each other's lines, and anything outside a run goes where it always
went (standard logging, the real stdout).
"""
import logging
import sys
import threading
from typing import Any, Optional

from .context import _current_call, _current_run

#: Name of the logger ``get_logger()`` returns (children for named loggers).
RUN_LOGGER_NAME = "perfect.run"

_formatter = logging.Formatter()


def wire_level(levelno):
    # type: (int) -> str
    """Map a ``logging`` level number to the protocol's DEBUG/INFO/WARNING/ERROR."""
    if levelno >= logging.ERROR:
        return "ERROR"
    if levelno >= logging.WARNING:
        return "WARNING"
    if levelno >= logging.INFO:
        return "INFO"
    return "DEBUG"


class _RunLogFilter(logging.Filter):
    """Consumes records made inside a run (sending them as events) and lets the rest through.

    A logger filter, unlike a handler, can stop a record from propagating, so run logs are not
    printed twice by whatever handlers the application configured.
    """

    def filter(self, record):
        # type: (logging.LogRecord) -> bool
        run = _current_run.get()
        if run is None:
            return True
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + _formatter.formatException(record.exc_info)
        if record.stack_info:
            message += "\n" + record.stack_info
        call = _current_call.get()
        run.log(wire_level(record.levelno), message, call.index if call is not None else None)
        return False


_run_filter = _RunLogFilter()
_loggers_lock = threading.Lock()


def get_logger(name=None):
    # type: (Optional[str]) -> logging.Logger
    """Return the logger for flow and task code.

    Inside a served run its records become ``log`` events of the current task (or of the run,
    outside a task), at INFO and above unless you lower its level. Outside ``serve`` it is an
    ordinary ``logging.Logger`` named ``perfect.run`` (or ``perfect.run.<name>``), so records go
    to whatever logging you configured.
    """
    logger = logging.getLogger(RUN_LOGGER_NAME if not name else "%s.%s" % (RUN_LOGGER_NAME, name))
    with _loggers_lock:
        if _run_filter not in logger.filters:
            logger.addFilter(_run_filter)
        base = logging.getLogger(RUN_LOGGER_NAME)
        if base.level == logging.NOTSET:
            # Without this, the root's default WARNING level would drop info() inside runs.
            base.setLevel(logging.INFO)
    return logger


class StdoutRouter:
    """A ``sys.stdout`` stand-in: text written inside a run becomes INFO log events (one per
    line) of the current task; text written anywhere else goes to the real stream."""

    def __init__(self, real):
        # type: (Any) -> None
        self._real = real

    @property
    def real(self):
        # type: () -> Any
        """The stream this router forwards to outside runs."""
        return self._real

    def write(self, text):
        # type: (str) -> int
        """Route ``text`` to the current run's logs or to the real stream."""
        run = _current_run.get()
        if run is None:
            return self._real.write(text)
        call = _current_call.get()
        holder = call if call is not None else run
        buffered = holder.line_buffer + text
        if "\n" in buffered or len(buffered) > 16384:
            lines = buffered.split("\n")
            holder.line_buffer = lines.pop()
            index = call.index if call is not None else None
            for line in lines:
                line = line.rstrip("\r")
                if line.strip():
                    run.log("INFO", line, index)
            if len(holder.line_buffer) > 16384:
                run.log("INFO", holder.line_buffer, index)
                holder.line_buffer = ""
        else:
            holder.line_buffer = buffered
        return len(text)

    def writelines(self, lines):
        # type: (Any) -> None
        """Write each string of ``lines``."""
        for line in lines:
            self.write(line)

    def flush(self):
        # type: () -> None
        """Flush the real stream (lines inside a run are sent when complete)."""
        if _current_run.get() is None:
            self._real.flush()

    def __getattr__(self, name):
        # encoding, isatty, fileno, ... behave like the real stream.
        return getattr(self._real, name)


def flush_line_buffer(run, call=None):
    # type: (Any, Any) -> None
    """Send an unfinished ``print`` line of a task call (or of the run) as a log line."""
    holder = call if call is not None else run
    text = holder.line_buffer
    if text:
        holder.line_buffer = ""
        if text.strip():
            run.log("INFO", text.rstrip("\r"), call.index if call is not None else None)


_install_lock = threading.Lock()
_install_count = 0
_replaced = None  # type: Optional[Any]


def install_stdout_router():
    # type: () -> None
    """Put a ``StdoutRouter`` in ``sys.stdout`` (reference-counted across workers)."""
    global _install_count, _replaced
    with _install_lock:
        if _install_count == 0:
            _replaced = sys.stdout
            sys.stdout = StdoutRouter(_replaced)
        _install_count += 1


def uninstall_stdout_router():
    # type: () -> None
    """Undo one ``install_stdout_router``; the last one restores the original stream."""
    global _install_count, _replaced
    with _install_lock:
        if _install_count == 0:
            return
        _install_count -= 1
        if _install_count == 0:
            if isinstance(sys.stdout, StdoutRouter):
                sys.stdout = _replaced
            _replaced = None
