"""Text that is always safe to put on the wire: valid UTF-8, and log lines the server never has
to truncate again.

Python strings can hold what UTF-8 cannot encode: lone surrogates, which is what
``os.fsdecode`` makes of a non-UTF-8 file name (``b"report_\\xe9t\\xe9.csv"`` → ``"report_\\udce9t\\udce9.csv"``)
and what a JSON parameter such as ``"\\udce9"`` decodes to. One such character used to make the
whole batch unencodable, so the run's events stopped for good. They are replaced by U+FFFD
instead (a surrogate *pair* written as two code points becomes the character it stands for).
"""
from typing import Any

#: The server's limit for one log message, in UTF-8 bytes (``MAX_LOG_BYTES`` in lib/engine).
MAX_LOG_BYTES = 16 * 1024
_MARKER = "… [truncated %d bytes]"


def safe_text(text):
    # type: (str) -> str
    """``text`` unchanged when it is valid Unicode, else with each lone surrogate replaced by U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        # UTF-16 joins a high+low pair into one character and "replace" turns the rest into U+FFFD.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def scrub(value, _depth=0):
    # type: (Any, int) -> Any
    """A copy of a JSON-like ``value`` with every string (keys too) passed through ``safe_text``."""
    if isinstance(value, str):
        return safe_text(value)
    if _depth > 1000:
        return value
    if isinstance(value, dict):
        return {scrub(k, _depth + 1) if isinstance(k, str) else k: scrub(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v, _depth + 1) for v in value]
    return value


def truncate_log_message(message):
    # type: (str) -> str
    """``message`` as safe text of at most ``MAX_LOG_BYTES`` UTF-8 bytes, marker included.

    An over-long message keeps its head (cut on a character boundary) and ends with the server's
    own marker, ``… [truncated N bytes]``, where N is the number of bytes really removed. Because
    the result already fits, the server stores it as it is instead of truncating it again.
    """
    message = safe_text(message)
    if len(message) * 4 <= MAX_LOG_BYTES:  # cannot exceed the limit, whatever the characters
        return message
    data = message.encode("utf-8")
    if len(data) <= MAX_LOG_BYTES:
        return message
    # The marker's own length depends on N; size it for the largest N possible (the whole text),
    # which can only be longer than the final one, so the result never overshoots.
    room = MAX_LOG_BYTES - len((_MARKER % len(data)).encode("utf-8"))
    head = data[:room].decode("utf-8", "ignore")  # "ignore" drops a character cut in half
    removed = len(data) - len(head.encode("utf-8"))
    return head + _MARKER % removed
