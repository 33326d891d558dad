"""``perfect``: the command line of a Perfect server (standard library ``argparse`` only).

    perfect flows ls [--json]
    perfect run FLOW [-p key=value]... [--watch] [--json]
    perfect runs ls [--state S] [--flow F] [--tag k:v] [--limit N] [--json]
    perfect logs RUN [-f] [--json]
    perfect cancel RUN
    perfect retry RUN [--watch]
    perfect worker FILE.py [--prefect]

It talks to the dashboard API at ``PERFECT_URL`` (default ``http://localhost:3000``; several
URLs separated by commas fail over as the SDK's workers do), sending ``PERFECT_API_TOKEN`` as
``Authorization: Bearer`` when it is set. Exit codes: 0 success (a watched run COMPLETED),
1 a watched run FAILED, 2 a watched run CANCELLED, 3 any error — one line on stderr: server
down, 401/403, an unknown flow or run, a bad ``-p``, bad usage.
"""
import argparse
import json
import os
import sys
import threading
import time
import urllib.parse
from typing import Any, Dict, List, Optional

from .errors import ServerUnreachable, error_message
from .transport import FailoverTransport, HttpTransport, Undecodable, split_urls
from .version import __version__

EXIT_OK, EXIT_FAILED, EXIT_CANCELLED, EXIT_ERROR = 0, 1, 2, 3
STATE_EXIT = {"COMPLETED": EXIT_OK, "FAILED": EXIT_FAILED, "CANCELLED": EXIT_CANCELLED}
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
DEFAULT_URL = "http://localhost:3000"
#: Seconds a watch keeps trying while the server does not answer before it gives up.
WATCH_OUTAGE_LIMIT = 60.0
REQUEST_TIMEOUT = 30.0


class CliError(Exception):
    """An error the CLI reports as one line on stderr, exiting with ``EXIT_ERROR``."""


# -- the server -------------------------------------------------------------------------------------


class Api:
    """The dashboard API over the SDK's transports: every failure becomes a ``CliError`` with
    a clear message."""

    def __init__(self, url=None, token=None):
        # type: (Optional[str], Optional[str]) -> None
        raw = url if url is not None else (os.environ.get("PERFECT_URL") or DEFAULT_URL)
        self.urls = split_urls(raw) or [DEFAULT_URL]
        for u in self.urls:
            if not u.startswith(("http://", "https://")):
                raise CliError("PERFECT_URL must look like http://host:port (several separated by commas), got %r" % u)
        self.url = ",".join(self.urls)
        token = token if token is not None else os.environ.get("PERFECT_API_TOKEN", "")
        agent = "perfect-cli/" + __version__
        if len(self.urls) == 1:
            self.transport = HttpTransport(self.urls[0], token, user_agent=agent)  # type: Any
        else:
            self.transport = FailoverTransport.for_urls(self.urls, token, user_agent=agent)

    def call(self, method, path, body=None, expect=(200, 201, 204)):
        # type: (str, str, Any, tuple) -> Any
        """Send one request; the decoded JSON answer, or ``CliError``."""
        try:
            if method == "GET":
                status, answer = self.transport.get(path, REQUEST_TIMEOUT)
            elif method == "POST":
                status, answer = self.transport.post(path, {} if body is None else body, REQUEST_TIMEOUT)
            else:
                raise ValueError(method)
        except ServerUnreachable as err:
            raise CliError("cannot reach the Perfect server at %s (%s)" % (self.url, err))
        if status in expect:
            if isinstance(answer, Undecodable):
                raise CliError("the server at %s answered something that is not JSON (%s)" % (self.url, answer.reason))
            return answer
        raise CliError(self.describe(status, answer))

    def describe(self, status, answer):
        # type: (int, Any) -> str
        """One line for an error answer."""
        message = error_message(answer) if isinstance(answer, dict) else ""
        if status == 401:
            return "the server refused the request (401): %s; set PERFECT_API_TOKEN to an API token" % (message or "unauthorized")
        if status == 403:
            return "the server refused the request (403): %s" % (message or "forbidden")
        if status == 404 and not message:
            return "not found (404): is %s a Perfect server?" % self.url
        if status == 429:
            return "the server is busy (429): %s; try again shortly" % (message or "rate limited")
        if status >= 500:
            return "the server failed (HTTP %d): %s" % (status, message or "internal error")
        return "%s (HTTP %d)" % (message or "request refused", status)

    def get(self, path):
        # type: (str) -> Any
        """GET ``path``."""
        return self.call("GET", path)

    def post(self, path, body=None):
        # type: (str, Any) -> Any
        """POST ``body`` (JSON) to ``path``."""
        return self.call("POST", path, body)


def _q(value):
    # type: (str) -> str
    return urllib.parse.quote(str(value), safe="")


def _run_path(run_id):
    # type: (str) -> str
    if not str(run_id).isdigit():
        raise CliError("run ids are numbers, got %r" % run_id)
    return "/api/runs/%s" % _q(run_id)


# -- flows ------------------------------------------------------------------------------------------


def all_flows(api, name=None):
    # type: (Api, Optional[str]) -> List[Dict[str, Any]]
    """Every flow (all pages of ``GET /api/flows``), optionally those whose name contains ``name``."""
    flows = []  # type: List[Dict[str, Any]]
    cursor = None
    for _ in range(1000):
        query = {"limit": "200"}
        if name:
            query["name"] = name
        if cursor:
            query["cursor"] = cursor
        page = api.get("/api/flows?" + urllib.parse.urlencode(query))
        flows.extend(page.get("flows") or [])
        cursor = page.get("nextCursor")
        if not cursor:
            break
    return flows


def find_flow(api, name, client=None):
    # type: (Api, str, Optional[str]) -> Dict[str, Any]
    """The flow named exactly ``name`` (or with that id), of ``client`` when given."""
    candidates = [f for f in all_flows(api, name) if f.get("name") == name and (client is None or f.get("clientId") == client)]
    if not candidates and name.isdigit():
        status, answer = api.transport.get("/api/flows/%s" % _q(name), REQUEST_TIMEOUT)
        if status == 200 and isinstance(answer, dict) and answer.get("id"):
            return answer
    if not candidates:
        raise CliError("unknown flow %r%s (perfect flows ls lists them)" % (name, " of client %s" % client if client else ""))
    if len(candidates) > 1:
        raise CliError("%d clients have a flow named %r (%s): pass --client" % (
            len(candidates), name, ", ".join(sorted(str(f.get("clientId")) for f in candidates))))
    return candidates[0]


_TRUE = ("true", "1", "yes", "y", "on")
_FALSE = ("false", "0", "no", "n", "off")


def parse_value(text, spec):
    # type: (str, Optional[Dict[str, Any]]) -> Any
    """The value of ``-p name=text`` for the parameter ``spec`` (its ``type`` from the flow's
    schema): ints, floats and bools converted, lists/dicts and unknown types read as JSON when
    they are JSON, strings as they are."""
    kind = (spec or {}).get("type") or "any"
    base = kind.replace("Optional[", "").rstrip("]").strip().lower()
    name = (spec or {}).get("name", "?")
    if text.lower() in ("null", "none") and kind.startswith("Optional["):
        return None
    if base == "str":
        return text
    if base == "int":
        try:
            return int(text)
        except ValueError:
            raise CliError("parameter %r expects an int, got %r" % (name, text))
    if base == "float":
        try:
            return float(text)
        except ValueError:
            raise CliError("parameter %r expects a number, got %r" % (name, text))
    if base == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise CliError("parameter %r expects true or false, got %r" % (name, text))
    if base in ("list", "dict") or base.startswith(("list", "dict")):
        try:
            value = json.loads(text)
        except ValueError:
            raise CliError("parameter %r expects JSON (a %s), got %r" % (name, base, text))
        return value
    choices = (spec or {}).get("choices")
    if choices:
        for choice in choices:
            if str(choice) == text:
                return choice
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_parameters(pairs, flow):
    # type: (List[str], Dict[str, Any]) -> Dict[str, Any]
    """``-p key=value`` pairs by the flow's parameter schema (an unknown key is an error unless
    the flow takes ``**kwargs``)."""
    schema = {p.get("name"): p for p in flow.get("parameters") or [] if p.get("kind") != "var_keyword"}
    takes_any = any(p.get("kind") == "var_keyword" for p in flow.get("parameters") or [])
    out = {}  # type: Dict[str, Any]
    for pair in pairs or []:
        if "=" not in pair:
            raise CliError("-p takes key=value, got %r" % pair)
        key, text = pair.split("=", 1)
        key = key.strip()
        if not key:
            raise CliError("-p takes key=value, got %r" % pair)
        if key not in schema and not takes_any:
            raise CliError("flow %r has no parameter %r (it takes: %s)" % (
                flow.get("name"), key, ", ".join(sorted(schema)) or "no parameters"))
        out[key] = parse_value(text, schema.get(key) or {"name": key})
    return out


# -- output -----------------------------------------------------------------------------------------


def _print_json(value):
    # type: (Any) -> None
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _table(rows, headers):
    # type: (List[List[str]], List[str]) -> None
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    line = lambda cells: "  ".join(c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip()  # noqa: E731
    sys.stdout.write(line(headers) + "\n")
    for row in rows:
        sys.stdout.write(line(row) + "\n")


def _clean(text):
    # type: (Any) -> str
    """User text for a terminal: control characters (escape sequences) shown, not obeyed."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if ch in "\n\t" or (code >= 32 and code != 127 and not 0x80 <= code < 0xa0):
            out.append(ch)
        else:
            out.append("\\x%02x" % code)
    return "".join(out)


def _duration(ms):
    # type: (Any) -> str
    if not isinstance(ms, (int, float)):
        return "-"
    seconds = ms / 1000.0
    if seconds < 60:
        return "%.1fs" % seconds
    return "%dm%02ds" % (seconds // 60, seconds % 60)


def _bar(progress, width=30):
    # type: (float, int) -> str
    filled = int(round(max(0.0, min(1.0, progress or 0.0)) * width))
    return "[" + "#" * filled + "-" * (width - filled) + "] %3d%%" % int(round((progress or 0.0) * 100))


# -- commands ---------------------------------------------------------------------------------------


def cmd_flows_ls(api, args):
    # type: (Api, argparse.Namespace) -> int
    """``perfect flows ls``."""
    flows = all_flows(api)
    if args.json:
        _print_json(flows)
        return EXIT_OK
    rows = []
    for f in flows:
        last = f.get("lastRun") or {}
        tags = ",".join("%s:%s" % (k, v) for k, v in sorted((f.get("tags") or {}).items()))
        rows.append([_clean(f.get("name")), str(f.get("id")), _clean(f.get("clientId")),
                     "online" if f.get("online") else "offline", str(last.get("state") or "-"), _clean(tags)])
    _table(rows, ["NAME", "ID", "CLIENT", "WORKER", "LAST RUN", "TAGS"])
    return EXIT_OK


def cmd_run(api, args):
    # type: (Api, argparse.Namespace) -> int
    """``perfect run FLOW [-p k=v]... [--watch]``."""
    flow = find_flow(api, args.flow, args.client)
    parameters = parse_parameters(args.param, flow)
    run = api.post("/api/flows/%s/runs" % _q(flow["id"]), {"parameters": parameters})
    if not args.watch:
        if args.json:
            _print_json(run)
        else:
            sys.stdout.write("run %s of %s created (%s)\n" % (run.get("id"), _clean(flow.get("name")), run.get("state")))
        return EXIT_OK
    sys.stderr.write("perfect: run %s of %s created, watching\n" % (run.get("id"), _clean(flow.get("name"))))
    return Watcher(api, str(run["id"]), progress=True).watch()


def cmd_runs_ls(api, args):
    # type: (Api, argparse.Namespace) -> int
    """``perfect runs ls [--state S] [--flow F] [--tag k:v]``."""
    query = [("limit", str(args.limit))]
    for state in args.state or []:
        query.append(("state", state.upper()))
    if args.flow:
        query.append(("flow", args.flow))
    for tag in args.tag or []:
        if ":" not in tag:
            raise CliError("--tag takes key:value, got %r" % tag)
        query.append(("tag", tag))
    if args.client:
        query.append(("client", args.client))
    page = api.get("/api/runs?" + urllib.parse.urlencode(query))
    runs = page.get("runs") or []
    if args.json:
        _print_json(runs)
        return EXIT_OK
    rows = [[str(r.get("id")), str(r.get("state")), _clean(r.get("flowName")), str(r.get("trigger")),
             str(r.get("createdAt") or "-"), _duration(r.get("durationMs")), "%d%%" % round((r.get("progress") or 0) * 100)]
            for r in runs]
    _table(rows, ["ID", "STATE", "FLOW", "TRIGGER", "CREATED", "DURATION", "PROGRESS"])
    return EXIT_OK


def cmd_logs(api, args):
    # type: (Api, argparse.Namespace) -> int
    """``perfect logs RUN [-f]``."""
    api.get(_run_path(args.run))  # 404 for an unknown run before anything else
    if args.follow:
        return Watcher(api, str(args.run), progress=False).watch()
    watcher = Watcher(api, str(args.run), progress=False)
    watcher.refresh_run()
    if args.json:
        _print_json(watcher.all_logs())
        return EXIT_OK
    watcher.print_new_logs()
    return EXIT_OK


def cmd_cancel(api, args):
    # type: (Api, argparse.Namespace) -> int
    """``perfect cancel RUN``."""
    run = api.post(_run_path(args.run) + "/cancel", {})
    state = run.get("state")
    if state == "CANCELLED":
        sys.stdout.write("run %s cancelled\n" % args.run)
    elif state == "RUNNING":
        sys.stdout.write("run %s: cancel requested (it stops at its next task boundary)\n" % args.run)
    else:
        sys.stdout.write("run %s is %s\n" % (args.run, state))
    return EXIT_OK


def cmd_retry(api, args):
    # type: (Api, argparse.Namespace) -> int
    """``perfect retry RUN [--watch]``."""
    run = api.post(_run_path(args.run) + "/retry", {})
    if not args.watch:
        if args.json:
            _print_json(run)
        else:
            sys.stdout.write("run %s created as a retry of run %s (%s)\n" % (run.get("id"), args.run, run.get("state")))
        return EXIT_OK
    sys.stderr.write("perfect: run %s created as a retry of run %s, watching\n" % (run.get("id"), args.run))
    return Watcher(api, str(run["id"]), progress=True).watch()


def cmd_worker(api, args):
    # type: (Api, argparse.Namespace) -> int
    """``perfect worker FILE.py [--prefect]``."""
    return serve_file(args.file, prefect=args.prefect, max_concurrent_runs=args.max_concurrent_runs)


def load_file(path, module_name=None):
    # type: (str, Optional[str]) -> Any
    """Import the Python file ``path`` as a module (its folder first on ``sys.path``, so a run
    process can import it again by name); its ``if __name__ == "__main__":`` block does not run."""
    import importlib.util

    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise CliError("no such file: %s" % path)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = module_name or os.path.splitext(os.path.basename(path))[0]
    if not name.isidentifier():
        name = "perfect_flows_file"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CliError("cannot load %s as Python" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def serve_file(path, prefect=False, max_concurrent_runs=4):
    # type: (str, bool, int) -> int
    """``perfect worker FILE.py``: serve every flow the file defines at module level."""
    from .decorators import Flow
    from .errors import FatalWorkerError, RunsFailed
    from .runner import serve

    if prefect:
        from .prefect_shim.launcher import serve_prefect_file

        return serve_prefect_file(path, max_concurrent_runs=max_concurrent_runs)
    try:
        module = load_file(path)
    except CliError:
        raise
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    except BaseException as err:
        raise CliError("%s failed to import: %s: %s" % (path, type(err).__name__, err))
    flows = []
    for value in vars(module).values():
        if isinstance(value, Flow) and value not in flows:
            flows.append(value)
    if not flows:
        raise CliError("%s defines no @flow at module level" % path)
    try:
        serve(*flows, max_concurrent_runs=max_concurrent_runs)
    except FatalWorkerError as err:
        raise CliError(str(err))
    except RunsFailed:
        return EXIT_FAILED
    return EXIT_OK


# -- watching a run ---------------------------------------------------------------------------------


class Watcher:
    """Follows one run until it ends: its progress bar (``progress=True``) and its logs as they
    arrive, woken by the SSE stream ``GET /api/events`` and polled besides (a second at most
    between looks), so a lost stream, a reconnect or a run that already ended never hangs it.
    Returns the exit code of the run's final state."""

    def __init__(self, api, run_id, progress=True, out=None, err=None):
        # type: (Api, str, bool, Any, Any) -> None
        self.api = api
        self.run_id = run_id
        self.progress = progress
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.run = {}  # type: Dict[str, Any]
        self.after = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._tty = bool(getattr(self.err, "isatty", lambda: False)())
        self._bar_shown = False
        self._last_line = None  # type: Optional[str]

    def refresh_run(self):
        # type: () -> Dict[str, Any]
        """The run as the server shows it now."""
        self.run = self.api.get(_run_path(self.run_id))
        return self.run

    def all_logs(self):
        # type: () -> List[Dict[str, Any]]
        """Every log line of the run (all pages), as the API gives them."""
        logs = []  # type: List[Dict[str, Any]]
        after = 0
        while True:
            page = self.api.get(_run_path(self.run_id) + "/logs?after=%d&limit=1000" % after).get("logs") or []
            logs.extend(page)
            if len(page) < 1000:
                return logs
            after = int(page[-1].get("id"))

    def print_new_logs(self):
        # type: () -> None
        """Every log line after the last one printed (all pages)."""
        names = {t.get("id"): t.get("name") for t in self.run.get("taskRuns") or []}
        while True:
            page = self.api.get(_run_path(self.run_id) + "/logs?after=%d&limit=1000" % self.after)
            logs = page.get("logs") or []
            if not logs:
                return
            if any(log.get("taskRunId") and log.get("taskRunId") not in names for log in logs):
                # a task that started after the run was read: read it again for the task's name
                names = {t.get("id"): t.get("name") for t in self.refresh_run().get("taskRuns") or []}
            self._clear_bar()
            for log in logs:
                task = names.get(log.get("taskRunId"))
                when = str(log.get("ts") or "")[11:19]
                self.out.write("%s %-7s %s%s\n" % (when, log.get("level"), "[%s] " % _clean(task) if task else "",
                                                   _clean(log.get("message"))))
                try:
                    self.after = max(self.after, int(log.get("id")))
                except (TypeError, ValueError):
                    pass
            self.out.flush()
            if len(logs) < 1000:
                return

    def _clear_bar(self):
        if self._tty and self._bar_shown:
            self.err.write("\r\033[K")
            self._bar_shown = False

    def _draw(self):
        if not self.progress:
            return
        run = self.run
        tasks = run.get("taskRuns") or []
        running = [t.get("name") for t in tasks if t.get("state") == "RUNNING"]
        done = sum(1 for t in tasks if t.get("state") in TERMINAL)
        line = "run %s %-9s %s  %d/%d tasks%s" % (self.run_id, run.get("state"), _bar(run.get("progress") or 0), done,
                                                  len(tasks), ("  " + _clean(", ".join(running))[:60]) if running else "")
        if self._tty:
            self.err.write("\r\033[K" + line)
            self._bar_shown = True
        elif line != self._last_line:
            self.err.write(line + "\n")
        self._last_line = line
        self.err.flush()

    def _listen(self):
        """The SSE stream: wake the watcher at each change of this run; reconnect when it ends."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                stream = self.api.transport.open_stream("/api/events", 20.0)
            except Exception:
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.5
            self._wake.set()  # (re)connected: look once, something may have been missed
            try:
                while not self._stop.is_set():
                    line = stream.readline()
                    if not line:
                        break  # the stream ended: reconnect
                    if line.startswith(b"data:") and self.run_id.encode() in line:
                        try:
                            change = json.loads(line[5:].decode("utf-8", "replace"))
                        except ValueError:
                            continue
                        if str(change.get("runId")) == self.run_id:
                            self._wake.set()
            except Exception:
                pass  # a timeout or a reset: reconnect
            finally:
                try:
                    stream.close()
                except Exception:
                    pass
            self._stop.wait(0.5)  # a stream a proxy ends at once must not become a busy loop

    def watch(self):
        # type: () -> int
        """Follow the run to its end; its exit code."""
        listener = threading.Thread(target=self._listen, name="perfect-cli-sse", daemon=True)
        listener.start()
        outage_since = None  # type: Optional[float]
        try:
            while True:
                try:
                    # The state is read before the logs: once it is final, the logs read after it
                    # are all of them (a run's last lines are stored before or with its end).
                    state = self.refresh_run().get("state")
                    self.print_new_logs()
                    outage_since = None
                except CliError as err:
                    if "cannot reach" not in str(err) and "HTTP 5" not in str(err) and "failed (HTTP" not in str(err):
                        raise
                    now = time.monotonic()
                    outage_since = outage_since or now
                    if now - outage_since > WATCH_OUTAGE_LIMIT:
                        raise CliError("lost the Perfect server while watching run %s: %s" % (self.run_id, err))
                    self._wake.wait(1.0)
                    self._wake.clear()
                    continue
                self._draw()
                if state in TERMINAL:
                    break
                self._wake.wait(1.0)
                self._wake.clear()
        finally:
            self._stop.set()
            self._clear_bar()
        state = self.run.get("state")
        error = self.run.get("error")
        self.err.write("perfect: run %s %s%s\n" % (self.run_id, state, (": " + _clean(error)) if error and state != "COMPLETED" else ""))
        self.err.flush()
        return STATE_EXIT.get(state, EXIT_ERROR)


# -- the parser -------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, exiting with ``EXIT_ERROR`` (3) on bad usage: 2 means CANCELLED here."""

    def error(self, message):
        """Print the usage and exit 3."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, "perfect: error: %s\n" % message)


def build_parser():
    # type: () -> argparse.ArgumentParser
    """The ``perfect`` argument parser."""
    epilog = ("environment: PERFECT_URL (default %s; several separated by commas fail over), PERFECT_API_TOKEN "
              "(sent as a bearer token). exit codes: 0 ok / COMPLETED, 1 FAILED, 2 CANCELLED, 3 error." % DEFAULT_URL)
    parser = _Parser(prog="perfect", description="Command line of a Perfect server.", epilog=epilog)
    parser.add_argument("--version", action="version", version="perfect " + __version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    flows = commands.add_parser("flows", help="registered flows", description="Registered flows.")
    flows_sub = flows.add_subparsers(dest="sub", metavar="SUBCOMMAND", parser_class=_Parser)
    flows_sub.required = True
    ls = flows_sub.add_parser("ls", help="list the flows", description="List every flow: name, id, client, worker state, last run, tags.")
    ls.add_argument("--json", action="store_true", help="print the flows as JSON")
    ls.set_defaults(handler=cmd_flows_ls)

    run = commands.add_parser("run", help="trigger a flow", description="Trigger a run of FLOW (its name, or its id).")
    run.add_argument("flow", metavar="FLOW")
    run.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                     help="a parameter, converted by the flow's parameter types (repeatable)")
    run.add_argument("--watch", action="store_true",
                     help="stream progress and logs until the run ends; exit 0 COMPLETED, 1 FAILED, 2 CANCELLED")
    run.add_argument("--client", help="the client whose flow it is, when several have one of that name")
    run.add_argument("--json", action="store_true", help="print the created run as JSON")
    run.set_defaults(handler=cmd_run)

    runs = commands.add_parser("runs", help="run history", description="Run history.")
    runs_sub = runs.add_subparsers(dest="sub", metavar="SUBCOMMAND", parser_class=_Parser)
    runs_sub.required = True
    rls = runs_sub.add_parser("ls", help="list runs, newest first", description="List runs, newest first.")
    rls.add_argument("--state", action="append", help="PENDING, RUNNING, COMPLETED, FAILED or CANCELLED (repeatable)")
    rls.add_argument("--flow", help="flow name (substring)")
    rls.add_argument("--tag", action="append", help="key:value the run's tags must hold (repeatable)")
    rls.add_argument("--client", help="client id")
    rls.add_argument("--limit", type=int, default=20, help="how many (at most 200; default 20)")
    rls.add_argument("--json", action="store_true", help="print the runs as JSON")
    rls.set_defaults(handler=cmd_runs_ls)

    logs = commands.add_parser("logs", help="a run's logs", description="Print a run's logs.")
    logs.add_argument("run", metavar="RUN")
    logs.add_argument("-f", "--follow", action="store_true",
                      help="follow until the run ends; exit 0 COMPLETED, 1 FAILED, 2 CANCELLED")
    logs.add_argument("--json", action="store_true", help="print the logs as JSON (without -f)")
    logs.set_defaults(handler=cmd_logs)

    cancel = commands.add_parser("cancel", help="cancel a run", description="Cancel a run (a RUNNING one stops at its next task boundary).")
    cancel.add_argument("run", metavar="RUN")
    cancel.set_defaults(handler=cmd_cancel)

    retry = commands.add_parser("retry", help="run a finished run again", description="A new run of a finished run's flow with its parameters.")
    retry.add_argument("run", metavar="RUN")
    retry.add_argument("--watch", action="store_true", help="watch the new run like run --watch")
    retry.add_argument("--json", action="store_true", help="print the new run as JSON")
    retry.set_defaults(handler=cmd_retry)

    worker = commands.add_parser("worker", help="serve the flows a file defines",
                                 description="Serve every flow FILE.py defines (PERFECT_URL, PERFECT_CLIENT_ID, PERFECT_TOKEN).")
    worker.add_argument("file", metavar="FILE.py")
    worker.add_argument("--prefect", action="store_true", help="FILE.py is a Prefect flow file (runs through Perfect's Prefect shim)")
    worker.add_argument("--max-concurrent-runs", type=int, default=4, help="runs executed at once (default 4)")
    worker.set_defaults(handler=cmd_worker)
    return parser


def main(argv=None):
    # type: (Optional[List[str]]) -> int
    """Entry point of ``perfect`` (and ``python -m perfect_client``): the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "worker":
            return args.handler(None, args)
        if getattr(args, "limit", 1) is not None and not 1 <= getattr(args, "limit", 1) <= 200:
            raise CliError("--limit must be from 1 to 200")
        return args.handler(Api(), args)
    except CliError as err:
        sys.stderr.write("perfect: %s\n" % err)
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("perfect: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK


def run_main():
    # type: () -> None
    """``sys.exit(main())``: the console script."""
    sys.exit(main())

