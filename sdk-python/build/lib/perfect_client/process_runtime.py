"""The supervisor's side of ``isolation="process"``: run processes, kept warm, watched to the end.

Start method: *spawn*. The supervisor has threads (heartbeat, sender, one watcher per run), and a
plain ``fork`` copies whatever locks those threads hold at that instant into a child that can
then deadlock on its first ``print`` or log call. A spawned process is a fresh interpreter that
imports the script again (as ``__mp_main__``: an unguarded ``serve()`` there does nothing) and
only then gets its run. Spawning costs tens of milliseconds, so it is done ahead of time: the
pool keeps ``warm`` processes started and waiting, a claimed run goes to one over a pipe at
once, and a replacement is started in the background (``bench_runtime.py`` measures both).

Every process runs exactly one run and exits, so nothing a run does (threads left behind,
monkey-patching, leaked memory, a crash) can reach the next one.
"""
import multiprocessing
import os
import signal
import tempfile
import threading
from typing import Any, List, Optional

from .child import child_main


def signal_name(number):
    # type: (int) -> str
    """``SIGSEGV`` for 11, etc."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return "signal %d" % number


def describe_exit(exitcode, memory_mb=None):
    # type: (Optional[int], Optional[int]) -> str
    """The error of a run whose process ended without reporting the run's end."""
    if exitcode is None:
        return "run process vanished"
    if exitcode < 0:
        text = "run process killed by %s" % signal_name(-exitcode)
        if -exitcode == signal.SIGKILL:
            text += " (out of memory, or killed from outside)"
        elif -exitcode == signal.SIGABRT and memory_mb:
            text += " (the run may have hit its memory limit of %s MB)" % memory_mb
        return text
    return "run process exited with code %d before the run finished" % exitcode


class RunProcess:
    """One spawned process, waiting for a run (``assign``) or executing it."""

    def __init__(self, context, options):
        # type: (Any, dict) -> None
        parent, child = context.Pipe(duplex=True)
        self.conn = parent
        # Not a daemon: a run may use multiprocessing itself, which daemonic processes cannot.
        # The supervisor kills its processes on every way out instead.
        self.process = context.Process(target=child_main, args=(child, options), name="perfect-run", daemon=False)
        self.process.start()
        child.close()
        self._send_lock = threading.Lock()
        self.crash_path = None  # type: Optional[str]

    def assign(self, run):
        # type: (dict) -> bool
        """Hand the run over; False if this process is already gone."""
        fd, self.crash_path = tempfile.mkstemp(prefix="perfect-run-", suffix=".crash")
        os.close(fd)
        run = dict(run, crash_path=self.crash_path)
        return self.send(("run", run))

    def send(self, message):
        # type: (Any) -> bool
        with self._send_lock:
            try:
                self.conn.send(message)
                return True
            except (OSError, ValueError, EOFError):
                return False

    def alive(self):
        # type: () -> bool
        return self.process.is_alive()

    def kill(self):
        # type: () -> None
        """SIGKILL: the run is past its grace period (or the worker is stopping)."""
        try:
            self.process.kill()
        except (OSError, ValueError, AttributeError):
            pass

    def reap(self, timeout=5.0):
        # type: (float) -> Optional[int]
        """Wait for the process to end (killing it after ``timeout``); return its exit code."""
        self.process.join(timeout)
        if self.process.is_alive():
            self.kill()
            self.process.join(timeout)
        try:
            self.conn.close()
        except OSError:
            pass
        return self.process.exitcode

    def crash_report(self):
        # type: () -> str
        """What ``faulthandler`` wrote when the process died of a fatal signal (may be empty)."""
        if not self.crash_path:
            return ""
        try:
            with open(self.crash_path, "r", errors="replace") as handle:
                return handle.read(20000).strip()
        except OSError:
            return ""

    def discard_crash_file(self):
        # type: () -> None
        if self.crash_path:
            try:
                os.unlink(self.crash_path)
            except OSError:
                pass
            self.crash_path = None


class ProcessPool:
    """Spawns run processes and keeps ``warm`` of them started and waiting for a run."""

    def __init__(self, warm=1, max_run_memory_mb=None, start_method="spawn"):
        # type: (int, Optional[int], str) -> None
        self._context = multiprocessing.get_context(start_method)
        self._options = {"max_run_memory_mb": max_run_memory_mb}
        self.warm = max(0, int(warm))
        self._spares = []  # type: List[RunProcess]
        self._lock = threading.Lock()
        self._wanted = threading.Condition(self._lock)
        self._closed = False
        self._thread = None  # type: Optional[threading.Thread]

    def start(self):
        # type: () -> None
        """Start the background thread that keeps the spares topped up."""
        if self.warm and self._thread is None:
            self._thread = threading.Thread(target=self._refill_loop, name="perfect-spares", daemon=True)
            self._thread.start()

    def take(self):
        # type: () -> RunProcess
        """A process ready for a run: a warm spare if one is alive, else a new one."""
        with self._lock:
            while self._spares:
                spare = self._spares.pop(0)
                if spare.alive():
                    self._wanted.notify_all()
                    return spare
                spare.reap(0.1)
            self._wanted.notify_all()
        return RunProcess(self._context, self._options)

    def _refill_loop(self):
        # type: () -> None
        while True:
            with self._lock:
                while not self._closed and len(self._spares) >= self.warm:
                    self._wanted.wait()
                if self._closed:
                    return
            try:
                spare = RunProcess(self._context, self._options)
            except Exception:  # cannot spawn now (out of processes or memory): take() will try
                with self._lock:
                    self._wanted.wait(1.0)
                continue
            with self._lock:
                if self._closed:
                    spare.kill()
                    spare.reap(1.0)
                    return
                self._spares.append(spare)

    def close(self):
        # type: () -> None
        """Stop refilling and end the spares (they hold no run)."""
        with self._lock:
            self._closed = True
            spares, self._spares = self._spares, []
            self._wanted.notify_all()
        for spare in spares:
            try:
                spare.conn.close()  # the spare sees EOF and exits on its own
            except OSError:
                pass
        for spare in spares:
            spare.reap(2.0)
