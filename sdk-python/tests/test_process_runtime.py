"""isolation="process": each run in a process of its own, supervised by the worker (issue 12).

The worker runs in this process against the in-process fake server; its runs execute in real
spawned processes importing ``process_flows``. Tests coordinate through flag files and assert
order and outcome only.
"""
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import process_flows  # noqa: E402
from fake_perfect import FakePerfect, WorkerThread  # noqa: E402

FAST = {"retry_initial": 0.01, "retry_cap": 0.05}
ALL = (process_flows.hello, process_flows.pool_flow, process_flows.outputs, process_flows.crash,
       process_flows.sleep_flow, process_flows.stuck_flow)


def wait_state(fake, run_id, states=("COMPLETED", "FAILED", "CANCELLED"), timeout=60.0):
    return fake.wait_for(lambda f: f.runs[run_id]["state"] in states and f.runs[run_id]["state"], timeout)


class ProcessRuntimeTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="perfect-proc-")
        os.environ["PERFECT_TEST_DIR"] = self.dir  # inherited by the spawned run processes
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.fake = FakePerfect(heartbeat_interval_ms=50)
        self.worker = None

    def tearDown(self):
        if self.worker is not None:
            process_flows.set_flag("release")
            self.worker.stop(30)

    def serve(self, **kwargs):
        for key, value in FAST.items():
            kwargs.setdefault(key, value)
        kwargs.setdefault("isolation", "process")
        kwargs.setdefault("max_concurrent_runs", 3)
        self.worker = WorkerThread(self.fake, *ALL, **kwargs).start()
        self.fake.wait_for(lambda f: f.registrations)
        return self.worker

    def messages(self, run_id):
        return [e["message"] for e in self.fake.events(run_id, "log")]

    def flag_exists(self, name):
        return lambda f: os.path.exists(os.path.join(self.dir, name))

    def test_a_run_executes_in_its_own_process_with_its_events(self):
        self.serve()
        run_id = self.fake.trigger("P Hello", {"name": "proc"})
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        types = [e["type"] for e in self.fake.events(run_id)]
        self.assertEqual(types, ["task_started", "log", "task_completed", "run_completed"])
        self.assertEqual(self.messages(run_id), ["hello proc"])
        seqs = [e["seq"] for e in self.fake.events(run_id)]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))

    def test_tasks_called_from_a_thread_pool_are_tracked_with_their_logs(self):
        self.serve()
        run_id = self.fake.trigger("P Pool", {"n": 4})
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        started = self.fake.events(run_id, "task_started")
        self.assertEqual(sorted(e["call"] for e in started), [0, 1, 2, 3])
        self.assertEqual({e["task"] for e in started}, {"pooled"})
        self.assertEqual(len(self.fake.events(run_id, "task_completed")), 4)
        by_call = {}
        for event in self.fake.events(run_id, "log"):
            by_call.setdefault(event.get("call"), []).append(event["message"])
        for call in range(4):
            self.assertEqual(len(by_call[call]), 2, by_call)  # its print and its log, on it
        self.assertEqual(by_call[None], ["sum 14"])

    def test_stderr_library_loggers_and_warnings_become_the_runs_logs(self):
        self.serve()
        run_id = self.fake.trigger("P Outputs")
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")
        logs = [(e["level"], e["message"]) for e in self.fake.events(run_id, "log")]
        self.assertIn(("WARNING", "to stderr"), logs)
        self.assertIn(("WARNING", "some.library: library warning"), logs)
        self.assertTrue(any(level == "WARNING" and "DeprecationWarning: deprecated thing" in message
                            for level, message in logs), logs)

    def crash_next_to_a_sleeper(self, how, **serve_kwargs):
        self.serve(**serve_kwargs)
        sleeper = self.fake.trigger("P Sleep", {"flag": "release"})
        self.fake.wait_for(self.flag_exists("asleep-release"), 60)
        run_id = self.fake.trigger("P Crash", {"how": how})
        state = wait_state(self.fake, run_id)
        # The crash failed its own run while the sibling run is still executing, untouched.
        self.assertEqual(self.fake.state(sleeper), "RUNNING")
        process_flows.set_flag("release")
        self.assertEqual(wait_state(self.fake, sleeper), "COMPLETED")
        self.assertIn("before the crash", self.messages(run_id))
        self.assertIn("about to %s" % how, self.messages(run_id))  # written just before dying
        return state, self.fake.runs[run_id]["error"], self.messages(run_id)

    def test_os_exit_fails_only_its_run_with_the_exit_code(self):
        state, error, _ = self.crash_next_to_a_sleeper("exit")
        self.assertEqual(state, "FAILED")
        self.assertEqual(error, "run process exited with code 3 before the run finished")

    def test_a_segfault_fails_only_its_run_with_the_signal_and_the_stack(self):
        state, error, messages = self.crash_next_to_a_sleeper("segfault")
        self.assertEqual(state, "FAILED")
        self.assertEqual(error, "run process killed by SIGSEGV")
        report = [m for m in messages if m.startswith("run process killed by SIGSEGV during task crash_with")]
        self.assertEqual(len(report), 1, messages)
        self.assertIn("Segmentation fault", report[0])
        self.assertIn("process_flows.py", report[0])  # faulthandler's stack names the line

    def test_a_memory_blow_up_hits_the_limit_and_fails_only_its_run(self):
        state, error, _ = self.crash_next_to_a_sleeper("memory", max_run_memory_mb=256)
        self.assertEqual(state, "FAILED")
        self.assertEqual(error, "MemoryError: the run exceeded its memory limit (max_run_memory_mb=256)")

    def test_a_task_that_ignores_the_cancel_is_terminated_after_the_grace_period(self):
        self.serve(cancel_grace_seconds=0.5)
        run_id = self.fake.trigger("P Stuck")
        self.fake.wait_for(self.flag_exists("stuck"), 60)
        self.fake.cancel(run_id)
        self.assertEqual(wait_state(self.fake, run_id), "CANCELLED")
        types = [e["type"] for e in self.fake.events(run_id)]
        self.assertEqual(types, ["task_started", "log", "log", "run_cancelled"])
        self.assertIn("cancel: task stuck was still running 0 s after the cancel request; its process was terminated",
                      self.messages(run_id)[-1].replace("1 s", "0 s"))

    def test_a_run_process_whose_supervisor_is_gone_ends_after_the_grace_period(self):
        # kill -9 of the worker, as its run process sees it: its pipe closes. A task in one long
        # call never reaches a boundary; the process must end on its own, not run on orphaned.
        import multiprocessing

        from perfect_client.process_runtime import RunProcess
        from perfect_client.runner import _process_ref

        proc = RunProcess(multiprocessing.get_context("spawn"), {"orphan_grace_seconds": 0.5})
        self.addCleanup(proc.kill)
        self.assertTrue(proc.assign({"run_id": "41", "flow_name": "P Stuck", "flow_ref": _process_ref(process_flows.stuck_flow),
                                     "parameters": {}}))
        self.fake.wait_for(self.flag_exists("stuck"), 60)
        proc.conn.close()  # the supervisor's end of the pipe: gone, as with kill -9
        proc.process.join(60)
        self.assertFalse(proc.process.is_alive(), "the orphaned run process is still running")
        self.assertEqual(proc.process.exitcode, 75)
        proc.discard_crash_file()

    def test_a_cancel_at_a_task_boundary_needs_no_kill(self):
        self.serve(cancel_grace_seconds=60)
        run_id = self.fake.trigger("P Sleep", {"flag": "go"})
        self.fake.wait_for(self.flag_exists("asleep-go"), 60)
        self.fake.cancel(run_id)
        # The cancel reaches the worker with a heartbeat answer, and the process through its pipe.
        beats = len(self.fake.heartbeats)
        self.fake.wait_for(lambda f: len(f.heartbeats) >= beats + 2)
        context = self.worker.worker._active[run_id]
        self.assertIsNotNone(context.stop_kind)
        process_flows.set_flag("go")
        self.assertEqual(wait_state(self.fake, run_id), "CANCELLED")
        types = [e["type"] for e in self.fake.events(run_id)]
        self.assertEqual(types, ["task_started", "log", "task_completed", "run_cancelled"])

    def test_a_heavy_run_never_delays_the_heartbeat(self):
        """Heartbeats come from the worker process, whatever a run's process is doing."""
        self.serve()
        run_id = self.fake.trigger("P Sleep", {"flag": "hb"})
        self.fake.wait_for(self.flag_exists("asleep-hb"), 60)
        beats = len(self.fake.heartbeats)
        self.fake.wait_for(lambda f: len(f.heartbeats) >= beats + 3)
        self.assertTrue(all(run_id in body["runIds"] for _, body in self.fake.heartbeats[beats:]))
        process_flows.set_flag("hb")
        self.assertEqual(wait_state(self.fake, run_id), "COMPLETED")


if __name__ == "__main__":
    unittest.main()


class SpawnFallbackTests(ProcessRuntimeTests):
    """The same, with a spawned process per run (the fallback when the fork server cannot start)."""

    def serve(self, **kwargs):
        kwargs.setdefault("process_start", "spawn")
        return super().serve(**kwargs)


class ForkServerTests(unittest.TestCase):
    def test_runs_are_forked_by_the_fork_server_in_their_own_process_group(self):
        fake = FakePerfect(heartbeat_interval_ms=50)
        worker = WorkerThread(fake, *ALL, isolation="process", **FAST).start()
        try:
            fake.wait_for(lambda f: f.registrations)
            fake.wait_for(lambda f: worker.worker._pool is not None, 60)
            server = worker.worker._fork_server
            self.assertIsNotNone(server)
            run_id = fake.trigger("P Hello", {"name": "forked"})
            self.assertEqual(wait_state(fake, run_id), "COMPLETED")
            self.assertFalse(server.dead)
        finally:
            worker.stop(30)
        self.assertFalse(server.process.is_alive())

    def test_a_fork_server_that_cannot_start_falls_back_to_spawning(self):
        from perfect_client import fork_server

        original = fork_server.ForkServer.start
        fork_server.ForkServer.start = lambda self, timeout=60.0: False
        try:
            fake = FakePerfect(heartbeat_interval_ms=50)
            worker = WorkerThread(fake, *ALL, isolation="process", **FAST).start()
            try:
                fake.wait_for(lambda f: f.registrations)
                run_id = fake.trigger("P Hello", {"name": "spawned"})
                self.assertEqual(wait_state(fake, run_id), "COMPLETED")
                self.assertIsNone(worker.worker._fork_server)
            finally:
                worker.stop(30)
        finally:
            fork_server.ForkServer.start = original
        self.assertIn("fork server could not start", worker.out.getvalue())
