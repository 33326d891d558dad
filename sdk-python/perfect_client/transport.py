"""HTTP transport: JSON over ``urllib`` with a bearer token.

The worker only ever needs "POST this JSON, give me status and JSON back", so that is the whole
interface. Anything with a compatible ``post`` method can replace ``HttpTransport`` (tests use an
in-process fake); status codes are interpreted by ``protocol.WorkerApi``, not here.
"""
import http.client
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, NamedTuple

from .errors import ServerUnreachable
from .wire_text import scrub

_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


#: Largest answer read (bytes): 50 claimed runs with 1 MiB of parameters each fit easily.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
#: Deepest nesting of arrays/objects accepted in an answer; the server caps values far lower.
MAX_ANSWER_DEPTH = 200


class Undecodable:
    """An answer the SDK refused to decode (invalid JSON, too deep, too large); ``reason`` says
    why. ``protocol.WorkerApi`` turns it into a transient ``ServerError``, so the worker logs it,
    backs off and keeps serving instead of dying on a ``RecursionError``."""

    def __init__(self, reason):
        # type: (str) -> None
        self.reason = reason

    def __repr__(self):
        return "<undecodable answer: %s>" % self.reason


class Response(NamedTuple):
    """An HTTP answer: ``status`` code and decoded JSON ``body`` (``None`` when not JSON)."""

    status: int
    body: Any


class HttpTransport:
    """POST JSON to a Perfect server with ``Authorization: Bearer <token>``.

    ``post`` returns a ``Response`` for every HTTP answer, including 4xx and 5xx, and raises
    ``ServerUnreachable`` when no answer came back at all.
    """

    def __init__(self, base_url, token, user_agent="perfect-client"):
        # type: (str, str, str) -> None
        self.base_url = base_url.rstrip("/")
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": "Bearer " + token,
            "User-Agent": user_agent,
        }
        host = urllib.parse.urlsplit(self.base_url).hostname or ""
        # A proxy from the environment cannot reach this machine's loopback, yet urllib would use
        # it for "localhost" unless no_proxy says otherwise.
        handlers = [urllib.request.ProxyHandler({})] if host in _LOOPBACK_HOSTS else []
        self._opener = urllib.request.build_opener(*handlers)

    def post(self, path, body, timeout):
        # type: (str, Any, float) -> Response
        """POST ``body`` as JSON to ``base_url + path``; wait at most ``timeout`` seconds."""
        data = encode_json(body)
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=self._headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=timeout) as answer:
                return Response(answer.status, decode_answer(answer.read(MAX_ANSWER_BYTES + 1)))
        except urllib.error.HTTPError as err:
            try:
                raw = err.read(MAX_ANSWER_BYTES + 1)
            except (OSError, http.client.HTTPException):
                raw = b""
            finally:
                err.close()
            return Response(err.code, decode_answer(raw))
        except urllib.error.URLError as err:
            raise ServerUnreachable(_reason(err.reason)) from None
        except (OSError, http.client.HTTPException, socket.timeout) as err:
            raise ServerUnreachable(_reason(err)) from None


def encode_json(body):
    # type: (Any) -> bytes
    """``body`` as compact UTF-8 JSON; strings UTF-8 cannot hold (lone surrogates) become U+FFFD
    rather than making the request, and with it every later event of a run, impossible."""
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(scrub(body), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _reason(err):
    # type: (Any) -> str
    if isinstance(err, socket.timeout):
        return "timed out"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


def _too_deep(value, limit):
    # type: (Any, int) -> bool
    """True when ``value`` nests lists/dicts deeper than ``limit`` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def decode_answer(raw):
    # type: (bytes) -> Any
    """Decode an answer body: ``None`` when empty, ``Undecodable`` when it is not JSON, larger
    than ``MAX_ANSWER_BYTES`` or nested deeper than ``MAX_ANSWER_DEPTH``, else the value.

    Never raises: a hostile or broken answer (``json.loads`` raises ``RecursionError`` on deep
    nesting) must cost one request, not the worker.
    """
    if not raw:
        return None
    if len(raw) > MAX_ANSWER_BYTES:
        return Undecodable("larger than %d bytes" % MAX_ANSWER_BYTES)
    try:
        value = json.loads(raw.decode("utf-8"))
    except RecursionError:
        return Undecodable("nested deeper than %d levels" % MAX_ANSWER_DEPTH)
    except (ValueError, UnicodeDecodeError) as err:
        return Undecodable("not JSON (%s)" % (str(err)[:200],))
    except MemoryError:
        return Undecodable("too large to decode")
    if _too_deep(value, MAX_ANSWER_DEPTH):
        return Undecodable("nested deeper than %d levels" % MAX_ANSWER_DEPTH)
    return value
