"""What every benchmark worker script in bench/py shares: this checkout's SDK on the path (the
scripts run from a clone without installing it) and ``report``, which writes a line to the
real stdout at once — the benchmark reads its timings from there, and a run's own stdout is
captured into its logs."""
import os
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "sdk-python"))

_out = sys.__stdout__
_lock = threading.Lock()


def report(line):
    """Write ``line`` to the process's real stdout, whole and flushed."""
    with _lock:
        _out.write(line + "\n")
        _out.flush()
