"""HTTP transport: JSON over HTTP/1.1 with a bearer token.

Each thread keeps one persistent connection (``http.client``) to the server and reuses it while
it is fresh, so a worker's polls, event batches and heartbeats do not pay a TCP connect (and the
server an accept) each; a server behind a proxy from the environment is reached through
``urllib`` as before. The worker only ever needs "POST this JSON, give me status and JSON back",
so that is the whole interface. Anything with a compatible ``post`` method can replace ``HttpTransport`` (tests use an
in-process fake); status codes are interpreted by ``protocol.WorkerApi``, not here.
"""
import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, List, NamedTuple

from .backoff import Backoff
from .errors import ServerUnreachable
from .wire_text import scrub

_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


#: A connection idle longer than this is not reused (servers close idle keep-alive connections
#: after a while — Node's default is 5 s — and a request sent as they do would be lost).
IDLE_REUSE_SECONDS = 2.0

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


def _closing_on_release(base):
    """``base`` (an ``http.client`` connection class) closed when the last reference goes — a
    thread's connection ends with its thread — instead of warning about an unclosed socket."""
    class Connection(base):
        def __del__(self):
            try:
                self.close()
            except Exception:
                pass
    Connection.__name__ = base.__name__
    return Connection


_HTTPConnection = _closing_on_release(http.client.HTTPConnection)
_HTTPSConnection = _closing_on_release(http.client.HTTPSConnection)


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
            "User-Agent": user_agent,
        }
        if token:  # the CLI without PERFECT_API_TOKEN sends none
            self._headers["Authorization"] = "Bearer " + token
        parts = urllib.parse.urlsplit(self.base_url)
        host = parts.hostname or ""
        self._opener = None  # urllib's, built when first needed (a proxy in between)
        proxied = host not in _LOOPBACK_HOSTS and bool(urllib.request.getproxies()) \
            and not urllib.request.proxy_bypass(host)
        # Persistent connections for plain http(s) without a proxy in between.
        self._direct = not proxied and parts.scheme in ("http", "https") and bool(host)
        self._connection_class = _HTTPSConnection if parts.scheme == "https" else _HTTPConnection
        self._address = (host, parts.port)
        self._path_prefix = parts.path.rstrip("/")
        self._local = threading.local()

    def post(self, path, body, timeout):
        # type: (str, Any, float) -> Response
        """POST ``body`` as JSON to ``base_url + path``; wait at most ``timeout`` seconds."""
        return self._send("POST", path, encode_json(body), timeout)

    def delete(self, path, timeout):
        # type: (str, float) -> Response
        """DELETE ``base_url + path`` (no body); wait at most ``timeout`` seconds."""
        return self._send("DELETE", path, None, timeout)

    def get(self, path, timeout):
        # type: (str, float) -> Response
        """GET ``base_url + path``; wait at most ``timeout`` seconds."""
        return self._send("GET", path, None, timeout)

    def put(self, path, body, timeout):
        # type: (str, Any, float) -> Response
        """PUT ``body`` as JSON to ``base_url + path``."""
        return self._send("PUT", path, encode_json(body), timeout)

    def patch(self, path, body, timeout):
        # type: (str, Any, float) -> Response
        """PATCH ``body`` as JSON to ``base_url + path``."""
        return self._send("PATCH", path, encode_json(body), timeout)

    def open_stream(self, path, timeout):
        # type: (str, float) -> Any
        """GET ``base_url + path`` and return the open response to read line by line (an SSE
        stream); raises ``ServerUnreachable`` without an answer, ``urllib.error.HTTPError``
        for a status >= 400."""
        headers = {k: v for k, v in self._headers.items() if k != "Content-Type"}
        headers["Accept"] = "text/event-stream"
        request = urllib.request.Request(self.base_url + path, headers=headers, method="GET")
        try:
            return self._urllib_opener().open(request, timeout=timeout)
        except urllib.error.HTTPError:
            raise
        except urllib.error.URLError as err:
            raise ServerUnreachable(_reason(err.reason)) from None
        except (OSError, http.client.HTTPException, socket.timeout) as err:
            raise ServerUnreachable(_reason(err)) from None

    def close(self):
        # type: () -> None
        """Closes this thread's persistent connection (the next request opens a new one)."""
        self._drop()

    def _drop(self):
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None and self._local.pid == os.getpid():
            try:
                conn.close()
            except OSError:
                pass

    def _connection(self, timeout):
        # type: (float) -> Any
        """This thread's connection and whether it is a reused one (fresh enough to trust)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid != os.getpid():
            # A forked child holds its parent's socket: never write to it (nor close it, which
            # could end the parent's TLS session); open one of its own.
            conn = self._local.conn = None
        if conn is not None and time.monotonic() - self._local.used_at < IDLE_REUSE_SECONDS:
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            return conn, True
        self._drop()
        host, port = self._address
        conn = self._connection_class(host, port, timeout=timeout)
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn, False

    def _send(self, method, path, data, timeout):
        # type: (str, str, Any, float) -> Response
        headers = self._headers if data is not None else {k: v for k, v in self._headers.items() if k != "Content-Type"}
        if not self._direct:
            return self._send_urllib(method, path, data, headers, timeout)
        for attempt in (1, 2):
            conn, reused = self._connection(timeout)
            try:
                conn.request(method, self._path_prefix + path, body=data, headers=headers)
                answer = conn.getresponse()
                raw = answer.read(MAX_ANSWER_BYTES + 1)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as err:
                self._drop()
                # The server closed a kept-alive connection as this request went out (an idle
                # timeout, a restart): it was not served, so it goes once more on a new one.
                if reused and attempt == 1:
                    continue
                raise ServerUnreachable(_reason(err)) from None
            except (OSError, http.client.HTTPException, socket.timeout) as err:
                self._drop()
                raise ServerUnreachable(_reason(err)) from None
            except BaseException:
                # Interrupted mid-exchange (Ctrl-C in a long poll): the connection is half-used
                # and cannot carry another request.
                self._drop()
                raise
            if answer.will_close or not answer.isclosed():
                self._drop()  # the server closes it, or a too-large answer was left unread
            else:
                self._local.used_at = time.monotonic()
            return Response(answer.status, decode_answer(raw))
        raise AssertionError("unreachable")

    def _urllib_opener(self):
        # type: () -> Any
        if self._opener is None:
            # A proxy from the environment cannot reach this machine's loopback, yet urllib would
            # use it for "localhost" unless no_proxy says otherwise.
            host = urllib.parse.urlsplit(self.base_url).hostname or ""
            handlers = [urllib.request.ProxyHandler({})] if host in _LOOPBACK_HOSTS else []
            self._opener = urllib.request.build_opener(*handlers)
        return self._opener

    def _send_urllib(self, method, path, data, headers, timeout):
        # type: (str, str, Any, dict, float) -> Response
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            with self._urllib_opener().open(request, timeout=timeout) as answer:
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


def split_urls(value):
    # type: (str) -> List[str]
    """``"http://a:3000, http://b:3000/"`` → ``["http://a:3000", "http://b:3000"]`` (empty parts
    dropped, trailing slashes removed, order kept: the first is the preferred instance)."""
    return [part.strip().rstrip("/") for part in (value or "").split(",") if part.strip()]


class FailoverTransport:
    """Several server instances sharing one database, tried in turn (``PERFECT_URL=A,B``).

    Every request goes to the *current* instance first (at the start: the first URL). A request
    that gets no answer (connection refused or reset, timeout) or a 5xx (a 503 from an instance
    still starting, a 502 from its proxy) is sent again, the same request, to the next instance
    at once, and the first that answers becomes current: the worker stays there (sticky) for as
    long as it answers. An instance that failed is put in a backoff of its own (doubling from
    ``retry_initial`` to ``retry_cap`` seconds): while it is in backoff it is tried only after
    every other instance failed too, so a dead instance costs nothing while another works and
    is found again as soon as it is needed and back.

    Re-sending is safe because the instances share one database: the worker id is valid on all
    of them, events are deduplicated by ``seq`` (and a ``seq_gap`` 409 makes the sender re-send
    from ``expectedSeq``), and a run claimed by a poll whose answer was lost goes back to the
    queue when the worker's heartbeats do not list it.
    """

    def __init__(self, transports, retry_initial=1.0, retry_cap=30.0, clock=None, on_switch=None):
        # type: (List[Any], float, float, Any, Any) -> None
        if not transports:
            raise ValueError("FailoverTransport needs at least one transport")
        self.transports = list(transports)
        self._clock = clock or time.monotonic
        self._on_switch = on_switch or (lambda old, new, reason: None)
        self._lock = threading.Lock()
        self._current = 0
        self._down_until = [0.0] * len(self.transports)
        self._backoffs = [Backoff(initial=retry_initial, cap=retry_cap) for _ in self.transports]

    @classmethod
    def for_urls(cls, urls, token, user_agent="perfect-client", **kwargs):
        # type: (List[str], str, str, Any) -> FailoverTransport
        return cls([HttpTransport(u, token, user_agent=user_agent) for u in urls], **kwargs)

    @property
    def current(self):
        # type: () -> int
        """Index of the instance requests go to first."""
        with self._lock:
            return self._current

    @property
    def base_url(self):
        # type: () -> str
        """URL of the current instance."""
        return getattr(self.transports[self.current], "base_url", "#%d" % self.current)

    def _order(self):
        # type: () -> List[int]
        now = self._clock()
        with self._lock:
            current = self._current
            others = [i for i in range(len(self.transports)) if i != current]
            ready = [i for i in others if self._down_until[i] <= now]
            waiting = sorted((i for i in others if self._down_until[i] > now), key=lambda i: self._down_until[i])
        return [current] + ready + waiting

    def _failed(self, index):
        # type: (int) -> None
        with self._lock:
            self._down_until[index] = self._clock() + self._backoffs[index].next_delay()

    def _worked(self, index, reason):
        # type: (int, str) -> None
        with self._lock:
            self._backoffs[index].reset()
            self._down_until[index] = 0.0
            old, self._current = self._current, index
        if old != index:
            self._on_switch(self._name(old), self._name(index), reason)

    def _name(self, index):
        # type: (int) -> str
        return getattr(self.transports[index], "base_url", "#%d" % index)

    def post(self, path, body, timeout):
        # type: (str, Any, float) -> Response
        """POST to the current instance, failing over to the others; raise ``ServerUnreachable``
        (or return the 5xx) only when every instance failed this request."""
        return self._each(lambda t: t.post(path, body, timeout))

    def delete(self, path, timeout):
        # type: (str, float) -> Response
        """DELETE on the current instance, failing over like ``post``."""
        return self._each(lambda t: t.delete(path, timeout))

    def get(self, path, timeout):
        # type: (str, float) -> Response
        """GET on the current instance, failing over like ``post``."""
        return self._each(lambda t: t.get(path, timeout))

    def put(self, path, body, timeout):
        # type: (str, Any, float) -> Response
        """PUT on the current instance, failing over like ``post``."""
        return self._each(lambda t: t.put(path, body, timeout))

    def patch(self, path, body, timeout):
        # type: (str, Any, float) -> Response
        """PATCH on the current instance, failing over like ``post``."""
        return self._each(lambda t: t.patch(path, body, timeout))

    def open_stream(self, path, timeout):
        # type: (str, float) -> Any
        """An SSE stream from the first instance that answers."""
        last = None  # type: Any
        for index in self._order():
            try:
                answer = self.transports[index].open_stream(path, timeout)
            except ServerUnreachable as err:
                self._failed(index)
                last = err
                continue
            self._worked(index, "")
            return answer
        raise last

    def _each(self, send):
        # type: (Any) -> Response
        last = None  # type: Any
        reasons = []  # type: List[str]
        for index in self._order():
            try:
                answer = send(self.transports[index])
            except ServerUnreachable as err:
                self._failed(index)
                last = err
                reasons.append("%s: %s" % (self._name(index), err))
                continue
            status = answer[0]
            if isinstance(status, int) and status >= 500:
                self._failed(index)
                last = answer
                reasons.append("%s: HTTP %d" % (self._name(index), status))
                continue
            self._worked(index, "; ".join(reasons))
            return answer
        if isinstance(last, ServerUnreachable):
            if len(reasons) > 1:
                raise ServerUnreachable("no instance answered (%s)" % "; ".join(reasons))
            raise last
        return last
