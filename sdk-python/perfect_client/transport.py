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

_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


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
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=self._headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=timeout) as answer:
                return Response(answer.status, _decode(answer.read()))
        except urllib.error.HTTPError as err:
            try:
                raw = err.read()
            except (OSError, http.client.HTTPException):
                raw = b""
            finally:
                err.close()
            return Response(err.code, _decode(raw))
        except urllib.error.URLError as err:
            raise ServerUnreachable(_reason(err.reason)) from None
        except (OSError, http.client.HTTPException, socket.timeout) as err:
            raise ServerUnreachable(_reason(err)) from None


def _reason(err):
    # type: (Any) -> str
    if isinstance(err, socket.timeout):
        return "timed out"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


def _decode(raw):
    # type: (bytes) -> Any
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
