"""Measure the SDK's overhead per task call inside a served run.

A flow of 1000 empty tasks runs in a real Worker against an in-process transport that accepts
every event batch (so batching, sequence numbers and the sender thread all run as in
production, minus the network). Each call is timed inside the flow and compared with calling
the bare function. Prints JSON:

    {"median_ms": ..., "p99_ms": ..., "baseline_ms": ..., ...}

``median_ms``/``p99_ms`` are per task call in the served run; ``baseline_ms`` is the median of a
bare function call; the target is median_ms <= 1.
"""
import io
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from perfect_client import Worker, flow, task  # noqa: E402
from perfect_client.transport import Response  # noqa: E402

TASKS = 1000


class AcceptingTransport:
    """Answers like a healthy server that has exactly one run queued."""

    def __init__(self):
        self.queued = [{"id": "run_bench", "flowId": "flw_bench", "flowName": "Overhead", "parameters": {}}]
        self.events = 0
        self.batches = 0
        self.done = threading.Event()

    def post(self, path, body, timeout):
        if path.endswith("/register"):
            return Response(200, {"workerId": "wkr_bench", "heartbeatIntervalMs": 5000, "longPollMs": 200,
                                  "flows": [{"id": "flw_bench", "name": "Overhead"}]})
        if path.endswith("/poll"):
            runs, self.queued = self.queued, []
            if not runs:
                time.sleep(body["waitMs"] / 1000.0)
            return Response(200, {"runs": runs})
        if path.endswith("/events"):
            self.batches += 1
            self.events += len(body["events"])
            if any(e["type"] == "run_completed" for e in body["events"]):
                self.done.set()
            return Response(200, {"applied": len(body["events"]), "duplicates": 0,
                                  "lastSeq": body["events"][-1]["seq"], "state": "RUNNING",
                                  "cancelRequested": False})
        return Response(200, {"cancelledRunIds": [], "finishedRunIds": [], "heartbeatIntervalMs": 5000})


@task
def noop():
    return None


durations = []


@flow(name="Overhead")
def overhead():
    clock = time.perf_counter
    for _ in range(TASKS):
        start = clock()
        noop()
        durations.append(clock() - start)


def baseline():
    clock = time.perf_counter
    samples = []
    for _ in range(TASKS):
        start = clock()
        noop.func()
        samples.append(clock() - start)
    return statistics.median(samples)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    transport = AcceptingTransport()
    worker = Worker([overhead], transport=transport, out=io.StringIO(), isolation="thread")  # the in-run cost, measured in this process
    thread = threading.Thread(target=worker.serve, daemon=True)
    thread.start()
    if not transport.done.wait(60):
        raise SystemExit("the benchmark run did not complete")
    worker.stop()
    thread.join(10)
    result = {
        "median_ms": round(statistics.median(durations) * 1000, 4),
        "p99_ms": round(percentile(durations, 0.99) * 1000, 4),
        "baseline_ms": round(baseline() * 1000, 6),
        "tasks": TASKS,
        "events": transport.events,
        "batches": transport.batches,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
