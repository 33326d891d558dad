"""Schedules declared in code against the REAL server (`next start` of the production build), with
real worker processes: ``@flow(schedules=[cron("* * * * * *")])`` is registered as a ``code``
schedule, its runs are made by the server (``trigger: "schedule"``, ``scheduleId``,
``scheduledFor``) and complete on the worker, and registering again keeps one schedule per
declaration (docs/API.md, "Schedules from code"). Needs `npm run build` first, like
test_server_e2e; on PostgreSQL too with PERFECT_TEST_PG_PORT (scripts/python-postgres.mjs).

Outcomes are asserted, never timing: every wait polls the dashboard API for a state.
"""
import datetime
import json
import os
import sys
import textwrap
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE]

import test_server_e2e as base  # noqa: E402  (a module import: its tests are not collected twice)
from test_server_e2e import SDK  # noqa: E402

FLOW = "E2E Every Second"
EVERY_SECOND = 'cron("* * * * * *", parameters={"label": "tick"})'

WORKER = textwrap.dedent("""
    import sys
    sys.path.insert(0, %(sdk)r)
    from perfect_client import cron, flow, interval, serve, task

    @task(estimated_time=50)
    def tick(label):
        print("tick %%s" %% label)
        return label

    @flow(name=%(flow)r, schedules=[%(schedules)s])
    def every_second(label: str = "manual"):
        tick(label)

    if __name__ == "__main__":
        serve(every_second)
""")


def parse_iso(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class ScheduleE2ETests(base.ServerE2ETests):
    # The base class's own tests run from test_server_e2e, not again here.
    test_flow_runs_to_completion_with_task_runs_and_logs = None
    test_killed_worker_fails_its_run_with_heartbeat_lost = None

    def start_worker(self, schedules=EVERY_SECOND):
        return self.launch_worker(WORKER % {"sdk": SDK, "flow": FLOW, "schedules": schedules},
                                  "schedule_worker_%d.py" % len(self.workers))

    def stop_worker(self, worker):
        base._kill_group(worker)
        self.assertIsNotNone(worker.poll(), "the worker did not stop")

    def worker_output(self, index=0):
        with open(os.path.join(self.dir, "worker-%d.log" % index), "rb") as handle:
            return handle.read()[-5000:].decode("utf-8", "replace")

    def delete(self, path):
        """DELETE with no body (and so no content type: the API refuses an empty JSON body)."""
        req = urllib.request.Request(self.url + path, method="DELETE", headers={"Accept": "application/json"})
        try:
            with base._opener.open(req, timeout=30) as answer:
                return answer.status, json.loads(answer.read().decode("utf-8") or "null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read().decode("utf-8") or "null")

    def schedules(self, flow_id):
        return self.get("/api/flows/%s/schedules" % flow_id)["schedules"]

    def scheduled_runs(self, flow_id, *states):
        query = [("flowId", flow_id), ("trigger", "schedule"), ("limit", "200")] + [("state", s) for s in states]
        return self.get("/api/runs?" + urllib.parse.urlencode(query))["runs"]

    def registered(self, worker):
        """Wait until the server lists ``worker`` (its pid) among the client's workers: its
        registration, schedules included, has been applied."""
        def probe():
            clients = self.get("/api/clients")["clients"]
            return any(w.get("pid") == worker.pid for c in clients for w in c.get("workers") or [])
        self.wait("worker %d to register" % worker.pid, probe, 30)

    # -- tests -------------------------------------------------------------------------------------

    def test_code_schedule_is_listed_and_its_runs_complete(self):
        worker = self.start_worker()
        flow_id = self.flow_id(FLOW)
        self.registered(worker)
        listed = self.schedules(flow_id)
        self.assertEqual(len(listed), 1, listed)
        schedule = listed[0]
        self.assertEqual(schedule["source"], "code")
        self.assertEqual(str(schedule["flowId"]), str(flow_id))
        self.assertEqual(schedule["cron"], "* * * * * *")
        self.assertIsNone(schedule.get("intervalSeconds"))
        self.assertEqual(schedule["timezone"], "UTC")
        self.assertEqual(schedule["parameters"], {"label": "tick"})
        self.assertIs(schedule["active"], True)
        self.assertEqual(schedule["catchup"], "skip")
        self.assertEqual(schedule["overlap"], "allow")
        next_runs = [parse_iso(t) for t in schedule["nextRuns"]]
        self.assertEqual(len(next_runs), 5, schedule)
        self.assertEqual(next_runs, sorted(set(next_runs)))
        self.assertEqual(self.get("/api/schedules/%s" % schedule["id"])["source"], "code")

        completed = self.wait("three scheduled runs to complete",
                              lambda: (lambda runs: runs if len(runs) >= 3 else None)(
                                  self.scheduled_runs(flow_id, "COMPLETED")), 90)
        for run in completed:
            self.assertEqual(run["trigger"], "schedule", run)
            self.assertEqual(str(run["scheduleId"]), str(schedule["id"]), run)
            self.assertEqual(run["parameters"], {"label": "tick"}, run)
            fire_time = parse_iso(run["scheduledFor"])
            self.assertEqual(fire_time.microsecond, 0, run)  # a per-second cron fires on whole seconds
        one = self.get_run(completed[0]["id"])
        self.assertEqual(one["trigger"], "schedule")
        self.assertEqual(str(one["scheduleId"]), str(schedule["id"]))
        self.assertEqual(one["scheduledFor"], completed[0]["scheduledFor"])
        self.assertEqual([t["state"] for t in one["taskRuns"]], ["COMPLETED"], one)
        logs = self.get("/api/runs/%s/logs" % one["id"])["logs"]
        self.assertIn("tick tick", [entry["message"] for entry in logs])

        # Exactly one run per fire time, whatever state the runs are in.
        fire_times = [run["scheduledFor"] for run in self.scheduled_runs(flow_id)]
        self.assertEqual(len(fire_times), len(set(fire_times)), fire_times)

        # A code schedule belongs to the code: the API cannot delete it.
        status, body = self.delete("/api/schedules/%s" % schedule["id"])
        self.assertEqual(status, 409, body)
        self.assertEqual([s["id"] for s in self.schedules(flow_id)], [schedule["id"]])

    def test_registering_again_keeps_one_schedule_and_new_code_replaces_it(self):
        first = self.start_worker()
        flow_id = self.flow_id(FLOW)
        self.registered(first)
        [schedule] = self.schedules(flow_id)
        status, paused = self.request("PATCH", "/api/schedules/%s" % schedule["id"], {"active": False})
        self.assertEqual(status, 200, paused)
        self.assertIs(paused["active"], False)
        self.assertEqual(paused["nextRuns"], [])

        # The same code registers again (a restarted worker): the same schedule, still paused.
        self.stop_worker(first)
        second = self.start_worker()
        self.registered(second)
        again = self.schedules(flow_id)
        self.assertEqual([(s["id"], s["source"], s["active"]) for s in again], [(schedule["id"], "code", False)], again)

        # Resumed, it makes runs that the restarted worker completes.
        status, resumed = self.request("PATCH", "/api/schedules/%s" % schedule["id"], {"active": True})
        self.assertEqual(status, 200, resumed)
        self.assertEqual(len(resumed["nextRuns"]), 5)
        resumed_from = parse_iso(resumed["nextRuns"][0])
        [run] = self.wait("a scheduled run to complete on the restarted worker",
                          lambda: [r for r in self.scheduled_runs(flow_id, "COMPLETED")
                                   if parse_iso(r["scheduledFor"]) >= resumed_from][:1], 90)
        self.assertEqual(str(run["scheduleId"]), str(schedule["id"]))

        # New code declaring other schedules: the old one is deleted, the new ones are added.
        self.stop_worker(second)
        third = self.start_worker('cron("*/2 * * * * *"), interval(seconds=30, overlap="skip", '
                                  'anchor="2026-01-01T06:00:00", timezone="Europe/Berlin")')
        self.registered(third)

        def replaced():
            listed = self.schedules(flow_id)
            return listed if schedule["id"] not in [s["id"] for s in listed] else None

        listed = self.wait("the code's new schedules to replace the old one", replaced, 30)
        self.assertCountEqual([(s.get("cron"), s.get("intervalSeconds"), s["overlap"], s["source"]) for s in listed],
                              [("*/2 * * * * *", None, "allow", "code"), (None, 30, "skip", "code")], listed)
        every_30 = next(s for s in listed if s.get("intervalSeconds"))
        # The naive anchor was read in Europe/Berlin (UTC+1 in January) and sent as that instant.
        self.assertEqual(parse_iso(every_30["anchor"]), parse_iso("2026-01-01T05:00:00Z"), every_30)
        self.assertEqual(every_30["timezone"], "Europe/Berlin")
        self.assertEqual(self.get_run(run["id"])["state"], "COMPLETED")  # its runs stay

        # ... and they fire: a run of the two-second cron completes on the new worker.
        two_second = next(s for s in listed if s.get("cron"))
        self.wait("a run of the new schedule to complete",
                  lambda: [r for r in self.scheduled_runs(flow_id, "COMPLETED")
                           if str(r["scheduleId"]) == str(two_second["id"])], 90)


if __name__ == "__main__":
    unittest.main()
