"""Schedules declared in code: the ``cron`` / ``interval`` builders and their wire form
(docs/API.md, "Schedules from code"), the checks made at decoration, registration carrying them,
and the flow's version staying out of it."""
import copy
import datetime
import importlib.util
import os
import pickle
import shutil
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

from fake_perfect import FakePerfect, WorkerThread  # noqa: E402
from perfect_client import Flow, Schedule, cron, flow, interval, task  # noqa: E402
from perfect_client.schedules import MAX_SCHEDULES  # noqa: E402

FAST = {"retry_initial": 0.01, "retry_cap": 0.05}
DEFAULTS = {"timezone": "UTC", "parameters": {}, "active": True, "catchup": "skip", "overlap": "allow"}


def _tz_database():
    try:
        import zoneinfo
        zoneinfo.ZoneInfo("Europe/Berlin")
        return True
    except Exception:
        return False


class CronWireTests(unittest.TestCase):
    def test_defaults(self):
        self.assertEqual(cron("0 6 * * *").to_wire(), dict(DEFAULTS, cron="0 6 * * *"))

    def test_every_field(self):
        schedule = cron("0 6 * * 1-5", timezone="Europe/Berlin", parameters={"day": "today", "limit": 5},
                        active=False, catchup="latest", overlap="cancel_running")
        self.assertEqual(schedule.to_wire(), {
            "cron": "0 6 * * 1-5", "timezone": "Europe/Berlin", "parameters": {"day": "today", "limit": 5},
            "active": False, "catchup": "latest", "overlap": "cancel_running"})
        self.assertNotIn("anchor", schedule.to_wire())
        self.assertNotIn("intervalSeconds", schedule.to_wire())

    def test_six_fields_with_seconds(self):
        self.assertEqual(cron("*/10 * * * * *").to_wire()["cron"], "*/10 * * * * *")

    def test_whitespace_is_normalised(self):
        self.assertEqual(cron("  0   6 * *\t* ").cron, "0 6 * * *")

    def test_every_policy_is_accepted(self):
        for catchup in ("skip", "latest", "all"):
            self.assertEqual(cron("* * * * *", catchup=catchup).to_wire()["catchup"], catchup)
        for overlap in ("allow", "skip", "queue", "cancel_running"):
            self.assertEqual(cron("* * * * *", overlap=overlap).to_wire()["overlap"], overlap)


class IntervalWireTests(unittest.TestCase):
    def test_defaults(self):
        self.assertEqual(interval(minutes=15).to_wire(), dict(DEFAULTS, intervalSeconds=900))

    def test_units_add_up_to_whole_seconds(self):
        wire = interval(seconds=30, minutes=1, hours=2, days=1).to_wire()
        self.assertEqual(wire["intervalSeconds"], 86400 + 7200 + 60 + 30)
        self.assertIs(type(wire["intervalSeconds"]), int)
        self.assertEqual(interval(seconds=2.0).interval_seconds, 2)
        self.assertEqual(interval(minutes=0.5).interval_seconds, 30)
        self.assertEqual(interval(minutes=0.1).interval_seconds, 6)  # not 6.000000000000001
        self.assertEqual(interval(hours=1.5).interval_seconds, 5400)

    def test_timedelta(self):
        self.assertEqual(interval(timedelta=datetime.timedelta(hours=1, minutes=30)).interval_seconds, 5400)
        self.assertEqual(interval(minutes=1, timedelta=datetime.timedelta(seconds=30)).interval_seconds, 90)

    def test_anchor_only_when_given_and_sent_as_a_utc_instant(self):
        self.assertNotIn("anchor", interval(hours=1).to_wire())
        aware = interval(hours=1, anchor=datetime.datetime(2026, 1, 1, 6, 30, tzinfo=datetime.timezone.utc))
        self.assertEqual(aware.to_wire()["anchor"], "2026-01-01T06:30:00Z")
        plus_one = datetime.timezone(datetime.timedelta(hours=1))
        millis = interval(hours=1, anchor=datetime.datetime(2026, 1, 1, 6, 30, 0, 250999, tzinfo=plus_one))
        self.assertEqual(millis.to_wire()["anchor"], "2026-01-01T05:30:00.250Z")
        for text, instant in (("2026-01-01T06:30:00Z", "2026-01-01T06:30:00Z"),
                              ("2026-01-01T06:30:00.5-02:30", "2026-01-01T09:00:00.500Z"),
                              ("2026-01-01T06:30:00.123456+01:00", "2026-01-01T05:30:00.123Z"),
                              ("2026-01-01", "2026-01-01T00:00:00Z"),  # naive: in the zone, UTC here
                              ("2026-01-01 06:30", "2026-01-01T06:30:00Z")):
            self.assertEqual(interval(hours=1, anchor=text).to_wire()["anchor"], instant, text)
        self.assertEqual(interval(hours=1, anchor=datetime.datetime(2026, 1, 1, 6, 30)).anchor, "2026-01-01T06:30:00Z")

    def test_a_naive_anchor_is_wall_clock_time_in_the_zone(self):
        winter = interval(hours=1, anchor="2026-01-01T06:30:00", timezone="Europe/Berlin")
        self.assertEqual(winter.anchor, "2026-01-01T05:30:00Z")
        summer = interval(hours=1, anchor=datetime.datetime(2026, 7, 1, 6, 30), timezone="Europe/Berlin")
        self.assertEqual(summer.anchor, "2026-07-01T04:30:00Z")
        # A wall time that occurs twice (clocks go back) is its first occurrence, as for fire times.
        twice = interval(hours=1, anchor="2026-10-25T02:30:00", timezone="Europe/Berlin")
        self.assertEqual(twice.anchor, "2026-10-25T00:30:00Z")

    def test_every_field(self):
        schedule = interval(seconds=5, anchor="2026-01-01T00:00:00Z", timezone="America/New_York",
                            parameters={"x": [1, 2]}, active=False, catchup="all", overlap="queue")
        self.assertEqual(schedule.to_wire(), {
            "intervalSeconds": 5, "anchor": "2026-01-01T00:00:00Z", "timezone": "America/New_York",
            "parameters": {"x": [1, 2]}, "active": False, "catchup": "all", "overlap": "queue"})


class ScheduleValueTests(unittest.TestCase):
    def test_immutable(self):
        schedule = cron("0 6 * * *", parameters={"day": "today"})
        with self.assertRaises(AttributeError):
            schedule.timezone = "Europe/Berlin"
        with self.assertRaises(AttributeError):
            schedule.cron = "0 7 * * *"
        schedule.parameters["day"] = "changed"
        schedule.to_wire()["parameters"]["day"] = "changed"
        self.assertEqual(schedule.parameters, {"day": "today"})

    def test_the_callers_dict_is_copied(self):
        given = {"day": "today", "nested": {"a": 1}}
        schedule = cron("0 6 * * *", parameters=given)
        given["day"] = "changed"
        given["nested"]["a"] = 2
        self.assertEqual(schedule.parameters, {"day": "today", "nested": {"a": 1}})

    def test_equality_follows_the_wire_form(self):
        self.assertEqual(cron("0 6 * * *"), cron("0  6 * * *", timezone="UTC"))
        self.assertEqual(interval(hours=1), interval(minutes=60))
        self.assertNotEqual(cron("0 6 * * *"), cron("0 6 * * *", active=False))
        self.assertEqual(len({interval(hours=1), interval(seconds=3600), cron("0 * * * *")}), 2)

    def test_copies_and_pickles(self):
        schedule = interval(hours=1, anchor="2026-01-01T00:00:00Z", parameters={"a": 1}, overlap="skip")
        for clone in (pickle.loads(pickle.dumps(schedule)), copy.deepcopy(schedule), copy.copy(schedule)):
            self.assertIsInstance(clone, Schedule)
            self.assertEqual(clone.to_wire(), schedule.to_wire())

    def test_repr_names_the_builder(self):
        self.assertEqual(repr(cron("0 6 * * *", timezone="Europe/Berlin")), "cron('0 6 * * *', timezone='Europe/Berlin')")
        self.assertEqual(repr(interval(minutes=15)), "interval(seconds=900)")


class BuilderValidationTests(unittest.TestCase):
    def assertRefused(self, build, *words):
        with self.assertRaises(ValueError) as caught:
            build()
        for word in words:
            self.assertIn(word, str(caught.exception))

    def test_cron_needs_five_or_six_fields(self):
        for expr in ("", "* * * *", "0 6 * * * * *", "@daily"):
            self.assertRefused(lambda: cron(expr), "field")
        self.assertRefused(lambda: cron(None), "string")
        self.assertRefused(lambda: cron(["0", "6", "*", "*", "*"]), "string")

    def test_interval_must_be_positive_whole_seconds(self):
        self.assertRefused(lambda: interval(), "longer than 0")
        self.assertRefused(lambda: interval(seconds=0, minutes=0), "longer than 0")
        self.assertRefused(lambda: interval(seconds=1.5), "whole number")
        self.assertRefused(lambda: interval(timedelta=datetime.timedelta(milliseconds=1500)), "whole number")
        self.assertRefused(lambda: interval(seconds=-5), "negative")
        self.assertRefused(lambda: interval(hours=2, minutes=-5), "negative")
        self.assertRefused(lambda: interval(timedelta=-datetime.timedelta(hours=1)), "negative")
        self.assertRefused(lambda: interval(seconds=float("inf")), "finite")
        self.assertRefused(lambda: interval(seconds=float("nan")), "finite")
        self.assertRefused(lambda: interval(seconds="60"), "number")
        self.assertRefused(lambda: interval(seconds=True), "number")
        self.assertRefused(lambda: interval(timedelta=60), "timedelta")
        self.assertRefused(lambda: interval(days=366), "at most 31536000")
        self.assertEqual(interval(days=365).interval_seconds, 31536000)

    def test_policies(self):
        self.assertRefused(lambda: cron("* * * * *", catchup="none"), "catchup", "'skip', 'latest', 'all'")
        self.assertRefused(lambda: interval(seconds=5, catchup=None), "catchup")
        self.assertRefused(lambda: cron("* * * * *", overlap="cancel"), "overlap", "'cancel_running'")
        self.assertRefused(lambda: interval(seconds=5, overlap="Allow"), "overlap")

    def test_active_is_a_bool(self):
        self.assertRefused(lambda: cron("* * * * *", active=1), "active")
        self.assertRefused(lambda: cron("* * * * *", active="false"), "active")

    def test_parameters(self):
        self.assertRefused(lambda: cron("* * * * *", parameters=[("day", "today")]), "dict")
        self.assertRefused(lambda: cron("* * * * *", parameters="day=today"), "dict")
        self.assertRefused(lambda: cron("* * * * *", parameters={1: "x"}), "names must be strings")
        self.assertRefused(lambda: cron("* * * * *", parameters={"when": datetime.date(2026, 1, 1)}), "JSON")
        self.assertRefused(lambda: cron("* * * * *", parameters={"x": float("nan")}), "JSON")
        self.assertRefused(lambda: cron("* * * * *", parameters={"x": {1, 2}}), "JSON")

    def test_server_limits(self):
        self.assertRefused(lambda: cron("0 6 * * " + ",".join(["1"] * 120)), "longer than 200")
        self.assertRefused(lambda: cron("* * * * *", timezone="Europe/" + "x" * 60), "timezone")
        self.assertRefused(lambda: cron("* * * * *", parameters={"n" * 201: 1}), "longer than 200")
        self.assertRefused(lambda: cron("* * * * *", parameters={"blob": "x" * (256 * 1024)}), "larger than")
        self.assertEqual(len(cron("* * * * *", parameters={"blob": "x" * 1000}).parameters["blob"]), 1000)

    def test_timezone(self):
        for bad in ("", "   ", None, 1):
            self.assertRefused(lambda: cron("* * * * *", timezone=bad), "timezone")
        self.assertEqual(cron("* * * * *", timezone="UTC").timezone, "UTC")

    def test_unknown_timezone_with_a_database(self):
        # Debian's tzdata is part of this machine kind (the server's Intl needs it too): asserted,
        # so a machine without it fails here instead of skipping the SDK's own zone checks.
        self.assertTrue(_tz_database(), "no IANA time zone database (install tzdata)")
        self.assertRefused(lambda: cron("* * * * *", timezone="Mars/Olympus_Mons"), "unknown time zone", "Mars")
        self.assertRefused(lambda: interval(hours=1, timezone="Europe/Berlinn"), "unknown time zone")
        self.assertEqual(cron("* * * * *", timezone="Europe/Berlin").timezone, "Europe/Berlin")
        # Another letter case is left to the server, which may accept it.
        self.assertEqual(cron("* * * * *", timezone="europe/berlin").timezone, "europe/berlin")

    def test_anchor(self):
        for bad in ("tomorrow", "2026-13-01T00:00:00", "2026-02-30", "2026-01-01T25:00:00", "", 1767225600,
                    "2026-01-01T06:30:00+0100", "2026-01-01T06:30:00+01", "20260101T063000Z"):
            self.assertRefused(lambda: interval(hours=1, anchor=bad), "anchor")
        self.assertRefused(lambda: interval(hours=1, anchor=datetime.date(2026, 1, 1)), "anchor")


# -- flows -----------------------------------------------------------------------------------------

@task(estimated_time=50)
def double(n):
    return n * 2


NIGHTLY = cron("0 6 * * *", timezone="Europe/Berlin", parameters={"n": 3})
EVERY_15 = interval(minutes=15, overlap="skip")


@flow(name="Scheduled Doubling", schedules=[NIGHTLY, EVERY_15])
def scheduled_doubling(n: int = 1):
    return double(n)


@flow(name="Unscheduled Doubling")
def unscheduled_doubling(n: int = 1):
    return double(n)


class FlowDeclarationTests(unittest.TestCase):
    def test_schedules_are_kept_on_the_flow(self):
        self.assertEqual(scheduled_doubling.schedules, (NIGHTLY, EVERY_15))
        self.assertEqual(unscheduled_doubling.schedules, ())
        self.assertEqual(flow(schedules=(EVERY_15,))(lambda: None).schedules, (EVERY_15,))
        self.assertEqual(flow(schedules=[])(lambda: None).schedules, ())

    def test_definition_carries_the_wire_form_only_when_there_are_schedules(self):
        self.assertEqual(scheduled_doubling.definition()["schedules"], [NIGHTLY.to_wire(), EVERY_15.to_wire()])
        self.assertNotIn("schedules", unscheduled_doubling.definition())
        self.assertNotIn("schedules", flow(schedules=[])(lambda: None).definition())

    def test_direct_calls_run_locally_and_ignore_schedules(self):
        self.assertEqual(scheduled_doubling(21), 42)
        self.assertEqual(scheduled_doubling(), 2)  # the function's default, not a schedule's parameters

    def test_schedules_must_be_a_list_of_schedules(self):
        with self.assertRaises(TypeError) as caught:
            flow(schedules=NIGHTLY)(lambda: None)
        self.assertIn("must be a list", str(caught.exception))
        for bad in ("0 6 * * *", {"cron": "0 6 * * *"}, 5):
            with self.assertRaises(TypeError):
                flow(schedules=bad)(lambda: None)
        for bad in (["0 6 * * *"], [NIGHTLY, {"intervalSeconds": 60}], [None]):
            with self.assertRaises(TypeError) as caught:
                flow(name="Bad", schedules=bad)(lambda n=1: None)
            self.assertIn("cron(...) or interval(...)", str(caught.exception))

    def test_at_most_fifty(self):
        many = [interval(seconds=s) for s in range(1, MAX_SCHEDULES + 2)]
        self.assertEqual(len(flow(schedules=many[:MAX_SCHEDULES])(lambda: None).schedules), MAX_SCHEDULES)
        with self.assertRaises(ValueError) as caught:
            flow(schedules=many)(lambda: None)
        self.assertIn("at most 50", str(caught.exception))

    def test_parameters_are_checked_against_the_signature(self):
        def etl(day: str = "today", limit: int = 10):
            pass

        with self.assertRaises(ValueError) as caught:
            flow(name="ETL", schedules=[cron("0 6 * * *", parameters={"dya": "x"})])(etl)
        self.assertIn("'dya'", str(caught.exception))
        self.assertIn("ETL", str(caught.exception))
        self.assertEqual(len(flow(schedules=[cron("0 6 * * *", parameters={"day": "x"})])(etl).schedules), 1)

        def needs_region(region: str, day: str = "today"):
            pass

        with self.assertRaises(ValueError) as caught:
            flow(schedules=[cron("0 6 * * *", parameters={"day": "x"})])(needs_region)
        self.assertIn("required", str(caught.exception))
        self.assertIn("'region'", str(caught.exception))
        flow(schedules=[interval(hours=1, parameters={"region": "eu"})])(needs_region)

        def anything(**options):
            pass

        flow(schedules=[interval(hours=1, parameters={"whatever": 1})])(anything)

    def test_flow_class_takes_schedules_too(self):
        made = Flow(lambda: None, name="Direct", schedules=[EVERY_15])
        self.assertEqual(made.definition()["schedules"], [EVERY_15.to_wire()])


# -- version ---------------------------------------------------------------------------------------

MODULE = '''
from perfect_client import cron, flow, interval, task

@task
def step(n):
    return n + 1

%s
def nightly(n: int = 1):
    return step(n)
'''


class VersionTests(unittest.TestCase):
    """The version routes runs to the code that runs them; schedules only say when runs are made."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="perfect-sched-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.count = 0

    def load(self, decorator, body=None):
        """The flow of a module file written with ``decorator`` (inspect reads real source)."""
        self.count += 1
        name = "sched_version_%d" % self.count
        path = os.path.join(self.dir, name + ".py")
        text = MODULE % textwrap.dedent(decorator).strip()
        if body is not None:
            text = text.replace("return step(n)", body)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.nightly

    def test_schedules_do_not_change_the_version(self):
        plain = self.load('@flow(name="Nightly")')
        self.assertRegex(plain.version, r"^[0-9a-f]{16}$")
        variants = [
            '@flow(name="Nightly", schedules=[cron("0 6 * * *")])',
            '@flow(name="Nightly", schedules=[cron("0 7 * * *", timezone="Europe/Berlin"), interval(minutes=5)])',
            '@flow(schedules=[interval(hours=1)], name="Nightly")',
            '@flow(name="Nightly",schedules=[])',
        ]
        for decorator in variants:
            scheduled = self.load(decorator)
            self.assertEqual(scheduled.version, plain.version, decorator)
            self.assertEqual(scheduled.definition()["version"], plain.version)

    def test_editing_the_schedules_in_any_layout_keeps_the_version(self):
        layout = """
            @flow(
                name="Nightly", schedules=[
                    %s
                ])
            """
        versions = set(self.load(layout % item).version for item in (
            'cron("0 6 * * *",\n                         parameters={"n": 2}),',
            'interval(minutes=5), cron("0 6 * * 1")',
            "",
        ))
        self.assertEqual(len(versions), 1)
        # Removing the argument leaves the text it was added to.
        self.assertEqual(versions, {self.load("""
            @flow(
                name="Nightly")
            """).version})

    def test_schedules_as_the_only_argument(self):
        self.assertEqual(self.load('@flow(schedules=[cron("0 6 * * *")])').version, self.load("@flow").version)

    def test_multi_line_decorator(self):
        plain = self.load('''
            @flow(
                name="Nightly",
                tags={"team": "data"},
            )
            ''')
        scheduled = self.load('''
            @flow(
                name="Nightly",
                tags={"team": "data"},
                schedules=[
                    cron("0 6 * * *", timezone="Europe/Berlin"),
                    interval(minutes=15),
                ],
            )
            ''')
        self.assertEqual(scheduled.version, plain.version)

    def test_the_code_still_changes_the_version(self):
        decorator = '@flow(name="Nightly", schedules=[cron("0 6 * * *")])'
        self.assertNotEqual(self.load(decorator).version, self.load(decorator, body="return step(n) + 1").version)
        # Other decorator arguments still count, as before.
        self.assertNotEqual(self.load('@flow(name="Nightly", tags={"a": "1"}, schedules=[cron("0 6 * * *")])').version,
                            self.load('@flow(name="Nightly", schedules=[cron("0 6 * * *")])').version)

    def test_flows_without_schedules_keep_their_fingerprint(self):
        # The same fingerprint as before schedules existed: the SHA-256 of the sources, unchanged.
        import hashlib
        import inspect
        plain = self.load('@flow(name="Nightly")')
        digest = hashlib.sha256()
        for func in (plain.func, plain.tasks[0].func):
            digest.update(inspect.getsource(func).encode("utf-8"))
            digest.update(b"\0")
        self.assertEqual(plain.version, digest.hexdigest()[:16])

    def test_explicit_version_wins(self):
        self.assertEqual(self.load('@flow(version="v7", schedules=[cron("0 6 * * *")])').version, "v7")


# -- registration ----------------------------------------------------------------------------------

class RegistrationTests(unittest.TestCase):
    def setUp(self):
        self.fake = FakePerfect()

    def serve(self, *flows):
        worker = WorkerThread(self.fake, *flows, **FAST).start()
        self.addCleanup(worker.stop)
        return worker

    def registered(self, index=0):
        self.fake.wait_for(lambda f: len(f.registrations) > index)
        return {d["name"]: d for d in self.fake.registrations[index]["flows"]}

    def test_register_body_carries_the_schedules(self):
        self.serve(scheduled_doubling, unscheduled_doubling)
        flows = self.registered()
        self.assertEqual(flows["Scheduled Doubling"]["schedules"], [
            {"cron": "0 6 * * *", "timezone": "Europe/Berlin", "parameters": {"n": 3}, "active": True,
             "catchup": "skip", "overlap": "allow"},
            {"intervalSeconds": 900, "timezone": "UTC", "parameters": {}, "active": True,
             "catchup": "skip", "overlap": "skip"},
        ])
        self.assertNotIn("schedules", flows["Unscheduled Doubling"])
        self.assertEqual(flows["Scheduled Doubling"]["version"], scheduled_doubling.version)

    def test_registering_again_sends_the_same_schedules(self):
        self.serve(scheduled_doubling)
        first = self.registered(0)
        self.fake.forget_workers()  # the next poll is 404: the worker registers again
        second = self.registered(1)
        self.assertEqual(second["Scheduled Doubling"]["schedules"], first["Scheduled Doubling"]["schedules"])
        self.assertEqual(second["Scheduled Doubling"]["version"], first["Scheduled Doubling"]["version"])

    def test_a_scheduled_flow_still_runs_when_triggered(self):
        self.serve(scheduled_doubling)
        self.registered()
        run_id = self.fake.trigger("Scheduled Doubling", {"n": 4})
        self.assertEqual(self.fake.wait_for(lambda f: f.runs[run_id]["state"] in ("COMPLETED", "FAILED")
                                            and f.runs[run_id]["state"]), "COMPLETED")


if __name__ == "__main__":
    unittest.main()


class MaxActiveRunsTests(unittest.TestCase):
    def test_the_definition_carries_it_only_when_set(self):
        @flow(name="Limited", max_active_runs=3)
        def limited():
            pass

        @flow(name="Free")
        def free():
            pass

        self.assertEqual(limited.definition()["maxActiveRuns"], 3)
        self.assertNotIn("maxActiveRuns", free.definition())

    def test_bad_values_are_refused_at_decoration(self):
        for bad in (0, -1, 1.5, True, "2", 100001):
            with self.assertRaises(ValueError, msg=repr(bad)):
                flow(name="Bad", max_active_runs=bad)(lambda: None)
