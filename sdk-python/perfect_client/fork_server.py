"""A fork server for run processes: dispatch in about a millisecond, even under bursts.

Spawning a fresh interpreter costs 250–500 ms of CPU on a small machine, so a warm pool of
spawned processes empties under a burst of triggers and runs wait for spawns. Forking is cheap,
but the supervisor cannot fork itself: its threads (heartbeat, sender, watchers) may hold a lock
at that instant that the child then waits for forever.

So the supervisor *spawns* one helper, the fork server: single-threaded (nothing but this loop
runs in it), it imports the script and the flows' modules once, then forks one child per run on
request. The supervisor creates each run's pipe itself and passes the child's end over the
control socket (``SCM_RIGHTS``); the forked child becomes a process group of its own and runs
``child.child_main`` on that pipe exactly like a spawned run process (events straight to the
supervisor, one run per process, resource limits, crash file). The fork server reaps its
children (``SIGCHLD`` wakes its loop) and reports each exit code or signal to the supervisor,
which kills a child (its whole group) on a hard cancel.

If the fork server cannot start, or dies, runs are spawned as before (``ProcessPool``).
"""
import gc
import os
import select
import signal
import sys
import threading
from multiprocessing import reduction
from typing import Any, Dict, List, Optional

from . import child as _child


def _exit_code(status):
    # type: (int) -> int
    """``waitpid`` status → ``multiprocessing``-style exit code (negative: killed by a signal)."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return -1


def fork_server_main(control, options, refs):
    # type: (Any, Dict[str, Any], List[Any]) -> None
    """Entry point of the fork server (a spawned process): preload, then fork on request."""
    _child.IN_RUN_PROCESS = True  # an unguarded serve() in an imported module does nothing
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # What a run's process imports on its way (lazily, to keep import cycles out of the SDK's
    # top level) is imported here once, so no forked child pays for it again — with
    # PYTHONDONTWRITEBYTECODE, or no writable __pycache__, each import would compile from source.
    from . import artifacts, async_execution, futures, protocol, subflows, transport  # noqa: F401
    for ref in refs:
        try:
            _child._resolve_flow(ref)  # imports the flow's module now, once for every run
        except Exception:
            pass  # the child reports it as the run's failure, with the error
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wake_w)
    children = set()
    control.send(("ready", os.getpid()))
    while True:
        try:
            readable, _, _ = select.select([control.fileno(), wake_r], [], [])
        except InterruptedError:
            readable = [wake_r]
        if wake_r in readable:
            try:
                while os.read(wake_r, 512):
                    pass
            except (BlockingIOError, OSError):
                pass
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            children.discard(pid)
            try:
                control.send(("exit", pid, _exit_code(status)))
            except (OSError, ValueError):
                pass
        if control.fileno() not in readable:
            continue
        try:
            message = control.recv()
            fd = reduction.recv_handle(control) if message[0] == "fork" else None
        except (EOFError, OSError):
            return  # the supervisor is gone; forked runs see their own pipes close
        if message[0] != "fork":
            return
        # Everything this process holds (the SDK, the flows' modules) goes to the collector's
        # permanent generation first: a collection in the child would otherwise write to every
        # object header the fork shares, copying most of those pages — ~15 ms of CPU per run
        # on a small machine, more than the rest of the run's process costs (gc.freeze's
        # documented use: "call gc.freeze() right before fork()").
        gc.freeze()
        pid = os.fork()
        if pid == 0:  # the run's process
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.setpgid(0, 0)
                os.close(wake_r)
                os.close(wake_w)
                control.close()
                from multiprocessing.connection import Connection

                _child.child_main(Connection(fd), options)
            finally:
                os._exit(70)  # child_main always exits itself; this is only reached on a bug
        os.close(fd)
        children.add(pid)
        try:
            control.send(("forked", pid))
        except (OSError, ValueError):
            return


class ForkedProcess:
    """A run process forked by the fork server; the interface of ``RunProcess``."""

    def __init__(self, server, conn, pid):
        # type: (ForkServer, Any, int) -> None
        self.server = server
        self.conn = conn
        self.pid = pid
        self.exited = threading.Event()
        self.exitcode = None  # type: Optional[int]
        self.crash_path = None  # type: Optional[str]
        self._send_lock = threading.Lock()

    # assign / send / crash report: as for a spawned process
    from .process_runtime import RunProcess as _R

    assign = _R.assign
    send = _R.send
    crash_report = _R.crash_report
    discard_crash_file = _R.discard_crash_file
    del _R

    def alive(self):
        # type: () -> bool
        return not self.exited.is_set()

    def kill(self):
        # type: () -> None
        """SIGKILL the run's process group (its own children too), unless it already exited."""
        if self.exited.is_set():
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            try:
                os.kill(self.pid, signal.SIGKILL)  # not yet in its own group
            except OSError:
                pass

    def reap(self, timeout=5.0):
        # type: (float) -> Optional[int]
        """Wait for the fork server to report the exit (killing it after ``timeout``)."""
        if not self.exited.wait(timeout):
            self.kill()
            self.exited.wait(timeout)
        try:
            self.conn.close()
        except OSError:
            pass
        return self.exitcode


class ForkServer:
    """The supervisor's handle on the fork server process."""

    def __init__(self, context, options, refs):
        # type: (Any, Dict[str, Any], List[Any]) -> None
        self._context = context
        self._options = options
        self._refs = refs
        self._lock = threading.Lock()  # one fork request at a time
        self._replies = []  # type: List[Any]
        self._cond = threading.Condition()
        self._procs = {}  # type: Dict[int, ForkedProcess]
        self._exits = {}  # type: Dict[int, int]
        self.dead = False
        self.process = None  # type: Any
        self._control = None  # type: Any

    def start(self, timeout=60.0):
        # type: (float) -> bool
        """Spawn the fork server and wait until it preloaded the flows; False if it could not."""
        try:
            parent, child = self._context.Pipe(duplex=True)
            self._control = parent
            self.process = self._context.Process(target=fork_server_main, args=(child, self._options, self._refs),
                                                 name="perfect-fork-server", daemon=False)
            self.process.start()
            child.close()
            if not parent.poll(timeout):
                raise RuntimeError("the fork server did not start within %.0f s" % timeout)
            ready = parent.recv()
            if not (isinstance(ready, tuple) and ready[0] == "ready"):
                raise RuntimeError("unexpected first message %r" % (ready,))
        except Exception:
            self.dead = True
            self.close()
            return False
        threading.Thread(target=self._read_loop, name="perfect-fork-server", daemon=True).start()
        return True

    def _read_loop(self):
        # type: () -> None
        while True:
            try:
                message = self._control.recv()
            except (EOFError, OSError):
                break
            if message[0] == "exit":
                _, pid, code = message
                with self._cond:
                    proc = self._procs.pop(pid, None)
                    if proc is None:
                        self._exits[pid] = code  # exited before its "forked" reply was read
                if proc is not None:
                    proc.exitcode = code
                    proc.exited.set()
            else:
                with self._cond:
                    self._replies.append(message)
                    self._cond.notify_all()
        # The fork server is gone: exit codes of its children can no longer be known.
        with self._cond:
            self.dead = True
            procs, self._procs = list(self._procs.values()), {}
            self._cond.notify_all()
        for proc in procs:
            proc.exited.set()  # exitcode None: "run process vanished"

    def fork(self, timeout=10.0):
        # type: (float) -> Optional[ForkedProcess]
        """A freshly forked run process waiting for its run, or None (fall back to spawning)."""
        if self.dead:
            return None
        ours, theirs = self._context.Pipe(duplex=True)
        with self._lock:
            try:
                self._control.send(("fork",))
                reduction.send_handle(self._control, theirs.fileno(), self.process.pid)
            except (OSError, ValueError, AttributeError):
                theirs.close()
                ours.close()
                return None
            theirs.close()
            with self._cond:
                if not self._cond.wait_for(lambda: self._replies or self.dead, timeout) or not self._replies:
                    ours.close()
                    return None
                reply = self._replies.pop(0)
                pid = reply[1]
                proc = ForkedProcess(self, ours, pid)
                if pid in self._exits:
                    proc.exitcode = self._exits.pop(pid)
                    proc.exited.set()
                else:
                    self._procs[pid] = proc
        return proc

    def close(self):
        # type: () -> None
        """Stop the fork server (runs it forked keep running until the supervisor kills them)."""
        if self._control is not None:
            try:
                self._control.close()
            except OSError:
                pass
        if self.process is not None:
            self.process.join(2.0)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(2.0)
