"""Turn ``get_logger()`` records and ``print()`` output inside a run into ``log`` events.

Routing is decided per write/record from the context variables of the calling thread, so two runs
executing at once never see each other's lines, and anything outside a run goes where it always
went (standard logging, the real stdout).
"""
import logging
import sys
import threading
from typing import Any, Optional

from .context import _current_call, current_run

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
        run = current_run()
        if run is None:
            return True
        _send_record(run, record)
        return bool(getattr(run, "echo", False))  # a direct run's terminal sees it too


def _send_record(run, record):
    # type: (Any, logging.LogRecord) -> None
    try:
        message = record.getMessage()
    except Exception as err:  # a bad format string must not lose the line, nor raise
        message = "%s (unformattable log record: %s)" % (record.msg, err)
    if record.exc_info:
        message += "\n" + _formatter.formatException(record.exc_info)
    if record.stack_info:
        message += "\n" + record.stack_info
    if record.name not in (RUN_LOGGER_NAME, "root") and not record.name.startswith(RUN_LOGGER_NAME + "."):
        message = "%s: %s" % (record.name, message)  # say which library logged it
    call = _current_call.get()
    run.log(wire_level(record.levelno), message, call.index if call is not None else None)


class RunLogHandler(logging.Handler):
    """A root-logger handler of a run's own process: library loggers and ``warnings`` (through
    ``logging.captureWarnings``) become the run's logs, attributed to the current task."""

    def emit(self, record):
        # type: (logging.LogRecord) -> None
        run = current_run()
        if run is not None:
            _send_record(run, record)


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
    """A ``sys.stdout`` stand-in: text written inside a run becomes log events (one per line,
    INFO, or ``level``: ``sys.stderr`` is routed at WARNING) of the current task; text written
    anywhere else goes to the real stream."""

    def __init__(self, real, level="INFO"):
        # type: (Any, str) -> None
        self._real = real
        self._level = level
        self._buffer_attr = "line_buffer" if level == "INFO" else "err_buffer"

    @property
    def real(self):
        # type: () -> Any
        """The stream this router forwards to outside runs."""
        return self._real

    def write(self, text):
        # type: (str) -> int
        """Route ``text`` to the current run's logs or to the real stream."""
        run = current_run()
        if run is None:
            return self._real.write(text)
        if getattr(run, "echo", False):
            self._real.write(text)  # a direct run: the terminal keeps its output
        call = _current_call.get()
        holder = call if call is not None else run
        attr = self._buffer_attr
        buffered = getattr(holder, attr) + text
        if "\n" in buffered or len(buffered) > 16384:
            lines = buffered.split("\n")
            setattr(holder, attr, lines.pop())
            index = call.index if call is not None else None
            for line in lines:
                line = line.rstrip("\r")
                if line.strip():
                    run.log(self._level, line, index)
            if len(getattr(holder, attr)) > 16384:
                run.log(self._level, getattr(holder, attr), index)
                setattr(holder, attr, "")
        else:
            setattr(holder, attr, buffered)
        return len(text)

    def writelines(self, lines):
        # type: (Any) -> None
        """Write each string of ``lines``."""
        for line in lines:
            self.write(line)

    def flush(self):
        # type: () -> None
        """Flush the real stream (lines inside a run are sent when complete)."""
        if current_run() is None:
            self._real.flush()

    def __getattr__(self, name):
        # encoding, isatty, fileno, ... behave like the real stream.
        return getattr(self._real, name)


def flush_line_buffer(run, call=None):
    # type: (Any, Any) -> None
    """Send an unfinished ``print`` line of a task call (or of the run) as a log line."""
    holder = call if call is not None else run
    for attr, level in (("line_buffer", "INFO"), ("err_buffer", "WARNING")):
        text = getattr(holder, attr, "")
        if text:
            setattr(holder, attr, "")
            if text.strip():
                run.log(level, text.rstrip("\r"), call.index if call is not None else None)


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
