"""Schedules declared in code: ``@flow(schedules=[cron(...), interval(...)])``.

``cron`` and ``interval`` build small immutable ``Schedule`` values; ``Schedule.to_wire()`` is
the JSON a flow definition carries in ``register`` (``docs/API.md``, "Schedules from code").
The server owns the semantics (cron parsing, time zones, DST, catch-up, overlap); what is
checked here is only what is cheap and certain, so a mistake fails at import time with a
``ValueError`` naming it instead of as a refused registration.
"""
import collections.abc
import datetime as _dt
import decimal
import json
import numbers
import re
from typing import Any, Dict, Mapping, Optional, Tuple

#: What to do with fire times missed while no server was running.
CATCHUP_POLICIES = ("skip", "latest", "all")
#: What to do at a fire time while the schedule's previous run is still PENDING or RUNNING.
OVERLAP_POLICIES = ("allow", "skip", "queue", "cancel_running")
#: Longest interval the server accepts (a year), in seconds.
MAX_INTERVAL_SECONDS = 31536000
#: Most schedules one flow may declare.
MAX_SCHEDULES = 50

#: Longest cron expression and time zone name the server keeps.
MAX_CRON = 200
MAX_TIMEZONE = 64
#: Largest ``parameters`` of a schedule, in bytes of JSON, and longest parameter name.
MAX_PARAMETERS_BYTES = 256 * 1024
MAX_PARAMETER_NAME = 200

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?$"
)


class Schedule:
    """One schedule of a flow, built by ``cron(...)`` or ``interval(...)``; immutable.

    Attributes: ``cron`` (str or None), ``interval_seconds`` (int or None), ``anchor`` (ISO UTC
    text such as ``2026-01-01T05:00:00Z``, or None), ``timezone``, ``parameters`` (a copy on each access), ``active``, ``catchup``,
    ``overlap``. Two schedules are equal when their ``to_wire()`` is.
    """

    __slots__ = ("_cron", "_interval_seconds", "_anchor", "_timezone", "_parameters", "_active",
                 "_catchup", "_overlap", "_key")

    def __init__(self, cron=None, interval_seconds=None, anchor=None, timezone="UTC", parameters=None,
                 active=True, catchup="skip", overlap="allow"):
        # type: (Optional[str], Optional[int], Optional[str], str, Optional[Mapping[str, Any]], bool, str, str) -> None
        if (cron is None) == (interval_seconds is None):
            raise ValueError("a schedule has exactly one of a cron expression and an interval")
        timezone = _check_timezone(timezone)
        values = {
            "_cron": None if cron is None else _check_cron(cron),
            "_interval_seconds": (None if interval_seconds is None
                                  else _check_total(_amount("seconds", interval_seconds))),
            "_anchor": None if anchor is None else _check_anchor(anchor, timezone),
            "_timezone": timezone,
            "_parameters": _check_parameters(parameters),
            "_active": _check_choice_bool(active),
            "_catchup": _check_choice("catchup", catchup, CATCHUP_POLICIES),
            "_overlap": _check_choice("overlap", overlap, OVERLAP_POLICIES),
        }
        if values["_cron"] is not None and values["_anchor"] is not None:
            raise ValueError("anchor is for interval schedules; a cron schedule has none")
        for name, value in values.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_key", json.dumps(self.to_wire(), sort_keys=True, separators=(",", ":")))

    # -- read-only attributes ----------------------------------------------------------------------

    cron = property(lambda self: self._cron, doc="The cron expression (fields separated by one space), or None.")
    interval_seconds = property(lambda self: self._interval_seconds, doc="The interval in seconds, or None.")
    anchor = property(lambda self: self._anchor, doc="The ISO time intervals count from, or None (server default).")
    timezone = property(lambda self: self._timezone, doc="IANA time zone name.")
    active = property(lambda self: self._active, doc="False: the schedule is registered paused.")
    catchup = property(lambda self: self._catchup, doc="One of CATCHUP_POLICIES.")
    overlap = property(lambda self: self._overlap, doc="One of OVERLAP_POLICIES.")

    @property
    def parameters(self):
        # type: () -> Dict[str, Any]
        """The run parameters (a fresh copy: the schedule itself cannot be changed)."""
        return json.loads(self._parameters)

    def __setattr__(self, name, value):
        raise AttributeError("a Schedule is immutable; build a new one with cron(...) or interval(...)")

    def __delattr__(self, name):
        raise AttributeError("a Schedule is immutable")

    # -- wire form ---------------------------------------------------------------------------------

    def to_wire(self):
        # type: () -> Dict[str, Any]
        """The schedule as a flow definition in ``register`` carries it (docs/API.md)."""
        wire = {}  # type: Dict[str, Any]
        if self._cron is not None:
            wire["cron"] = self._cron
        else:
            wire["intervalSeconds"] = self._interval_seconds
            if self._anchor is not None:
                wire["anchor"] = self._anchor
        wire.update({
            "timezone": self._timezone,
            "parameters": self.parameters,
            "active": self._active,
            "catchup": self._catchup,
            "overlap": self._overlap,
        })
        return wire

    def __eq__(self, other):
        return isinstance(other, Schedule) and other._key == self._key

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self._key)

    def __reduce__(self):
        # Immutable values still pickle (a flow module imported in a run process, a cache).
        return (_from_wire, (self.to_wire(),))

    def __repr__(self):
        what = "cron(%r" % self._cron if self._cron is not None else "interval(seconds=%d" % self._interval_seconds
        extras = []
        if self._anchor is not None:
            extras.append("anchor=%r" % self._anchor)
        if self._timezone != "UTC":
            extras.append("timezone=%r" % self._timezone)
        if self._parameters != "{}":
            extras.append("parameters=%s" % self._parameters)
        if not self._active:
            extras.append("active=False")
        if self._catchup != "skip":
            extras.append("catchup=%r" % self._catchup)
        if self._overlap != "allow":
            extras.append("overlap=%r" % self._overlap)
        return what + "".join(", " + e for e in extras) + ")"


def _from_wire(wire):
    # type: (Dict[str, Any]) -> Schedule
    return Schedule(cron=wire.get("cron"), interval_seconds=wire.get("intervalSeconds"), anchor=wire.get("anchor"),
                    timezone=wire["timezone"], parameters=wire["parameters"], active=wire["active"],
                    catchup=wire["catchup"], overlap=wire["overlap"])


def cron(expr, timezone="UTC", parameters=None, active=True, catchup="skip", overlap="allow"):
    # type: (str, str, Optional[Mapping[str, Any]], bool, str, str) -> Schedule
    """A schedule firing at the times a cron expression names, read as wall-clock time in ``timezone``.

    ``expr`` has 5 fields (``minute hour day-of-month month day-of-week``) or 6 with seconds
    first; the server parses it (``"0 6 * * 1-5"``, ``"*/15 * * * *"``, ``"30 0 6 * * *"``).
    ``parameters`` are the run's parameters (checked against the flow's signature at
    decoration). ``active=False`` registers it paused. ``catchup``: ``skip`` | ``latest`` |
    ``all``; ``overlap``: ``allow`` | ``skip`` | ``queue`` | ``cancel_running`` (docs/API.md).
    """
    return Schedule(cron=_check_cron(expr), timezone=timezone, parameters=parameters, active=active, catchup=catchup,
                    overlap=overlap)


def interval(seconds=0, minutes=0, hours=0, days=0, *, timedelta=None, anchor=None, timezone="UTC",
             parameters=None, active=True, catchup="skip", overlap="allow"):
    # type: (float, float, float, float, Optional[_dt.timedelta], Any, str, Optional[Mapping[str, Any]], bool, str, str) -> Schedule
    """A schedule firing every ``seconds + minutes + hours + days`` (plus ``timedelta``).

    The total must be a whole number of seconds, 1 … 31,536,000. Fire times are ``anchor + k ×
    interval`` in elapsed time (a DST change does not move them); ``anchor`` is a ``datetime``
    or ISO text, with a UTC offset or without one (then it is wall-clock time in ``timezone``,
    which needs this machine's time zone database unless the zone is UTC), sent as the UTC
    instant; by default the server's, ``2020-01-01T00:00:00`` in ``timezone``. The other
    arguments are those of ``cron``.
    """
    total = decimal.Decimal(0)
    for name, value in (("seconds", seconds), ("minutes", minutes), ("hours", hours), ("days", days)):
        total += _amount(name, value) * {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}[name]
    if timedelta is not None:
        if not isinstance(timedelta, _dt.timedelta):
            raise ValueError("timedelta must be a datetime.timedelta, got %r" % (timedelta,))
        if timedelta < _dt.timedelta(0):
            raise ValueError("timedelta must not be negative, got %r" % (timedelta,))
        total += (decimal.Decimal(timedelta.days * 86400 + timedelta.seconds)
                  + decimal.Decimal(timedelta.microseconds) / 1000000)
    return Schedule(interval_seconds=_check_total(total), anchor=anchor, timezone=timezone, parameters=parameters,
                    active=active, catchup=catchup, overlap=overlap)


# -- checks ----------------------------------------------------------------------------------------

def _amount(name, value):
    # type: (str, Any) -> decimal.Decimal
    """``value`` as an exact Decimal (a float by its shortest repr, so 0.1 minutes is 6 s)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, decimal.Decimal)):
        raise ValueError("interval %s must be a number, got %r" % (name, value))
    if isinstance(value, decimal.Decimal):
        amount = value
    elif isinstance(value, numbers.Integral):
        amount = decimal.Decimal(int(value))
    else:
        amount = decimal.Decimal(repr(float(value)))
    if not amount.is_finite():
        raise ValueError("interval %s must be finite, got %r" % (name, value))
    if amount < 0:
        raise ValueError("interval %s must not be negative, got %r" % (name, value))
    return amount


def _check_total(total):
    # type: (decimal.Decimal) -> int
    if not total.is_finite() or total <= 0:
        raise ValueError("an interval must be longer than 0 seconds")
    if total != total.to_integral_value():
        raise ValueError("an interval must be a whole number of seconds, got %s s" % total.normalize())
    if total > MAX_INTERVAL_SECONDS:
        raise ValueError("an interval can be at most %d seconds (a year), got %d s" % (MAX_INTERVAL_SECONDS, total))
    return int(total)


def _check_cron(expr):
    # type: (Any) -> str
    if not isinstance(expr, str):
        raise ValueError("cron expression must be a string such as \"0 6 * * *\", got %r" % (expr,))
    fields = expr.split()
    if len(" ".join(fields)) > MAX_CRON:
        raise ValueError("cron expression is longer than %d characters: %r" % (MAX_CRON, expr[:60] + "..."))
    if len(fields) not in (5, 6):
        raise ValueError("cron expression %r has %d field(s); it needs 5 (minute hour day month weekday) "
                         "or 6 (seconds first)" % (expr, len(fields)))
    return " ".join(fields)


def _check_anchor(anchor, timezone):
    # type: (Any, str) -> str
    """``anchor`` as the UTC instant the server takes (``2026-01-01T05:00:00Z``)."""
    if isinstance(anchor, _dt.datetime):
        moment = anchor
    elif isinstance(anchor, str):
        moment = _parse_iso(anchor.strip())
        if moment is None:
            raise ValueError("anchor must be an ISO 8601 time such as \"2026-01-01T06:00:00+01:00\" or "
                             "\"2026-01-01T06:00:00\" (read in the schedule's time zone), got %r" % (anchor,))
    else:
        raise ValueError("anchor must be a datetime or an ISO 8601 string, got %r" % (anchor,))
    if moment.utcoffset() is None:
        zone = _zone(timezone)
        if zone is None:
            raise ValueError("anchor %r has no UTC offset and time zone %r is not known on this machine: give the "
                             "offset (\"...+01:00\" or \"...Z\", or an aware datetime)" % (anchor, timezone))
        moment = moment.replace(tzinfo=zone)  # fold=0: an ambiguous wall time is its first occurrence
    utc = moment.astimezone(_dt.timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S") if utc.year >= 1000 else None
    if text is None:
        raise ValueError("anchor %r is before the year 1000" % (anchor,))
    if utc.microsecond:
        text += ".%03d" % (utc.microsecond // 1000)
    return text + "Z"


def _parse_iso(text):
    # type: (str) -> Optional[_dt.datetime]
    """An ISO 8601 date or date-time (offset ``Z`` / ``±HH:MM`` optional), whatever the Python
    version (``datetime.fromisoformat`` reads less before 3.11); None if it is not one."""
    match = _ISO.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        tz = None
        if offset == "Z":
            tz = _dt.timezone.utc
        elif offset:
            sign = -1 if offset[0] == "-" else 1
            tz = _dt.timezone(sign * _dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
        return _dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                            int((fraction or "0")[:6].ljust(6, "0")), tzinfo=tz)
    except ValueError:
        return None


def _zone(name):
    # type: (str) -> Any
    """The ``tzinfo`` of an IANA name, or None when this machine cannot tell."""
    if name in ("UTC", "Etc/UTC"):
        return _dt.timezone.utc
    try:
        import zoneinfo  # Python 3.9+
        return zoneinfo.ZoneInfo(name)
    except Exception:
        return None


def _check_timezone(timezone):
    # type: (Any) -> str
    if not isinstance(timezone, str) or not timezone.strip() or len(timezone.strip()) > MAX_TIMEZONE:
        raise ValueError("timezone must be an IANA time zone name such as \"Europe/Berlin\", got %r" % (timezone,))
    timezone = timezone.strip()
    if _unknown_timezone(timezone):
        raise ValueError("unknown time zone %r: use an IANA name such as \"Europe/Berlin\" or \"UTC\"" % timezone)
    return timezone


def _unknown_timezone(name):
    # type: (str) -> bool
    """True only when this machine's time zone database is present and certainly lacks ``name``.

    Without ``zoneinfo`` (Python 3.8) or a database, nothing is decided here: the server checks.
    A name found in another letter case is left to the server too (it matches names that way).
    """
    if name == "UTC":
        return False
    try:
        import zoneinfo  # Python 3.9+
    except ImportError:
        return False
    try:
        zoneinfo.ZoneInfo(name)
        return False
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    try:
        zoneinfo.ZoneInfo("Europe/Berlin")
        known = zoneinfo.available_timezones()
    except Exception:
        return False  # no usable database here
    lowered = name.lower()
    return bool(known) and not any(k.lower() == lowered for k in known)


def _check_parameters(parameters):
    # type: (Any) -> str
    if parameters is None:
        return "{}"
    if not isinstance(parameters, collections.abc.Mapping):
        raise ValueError("schedule parameters must be a dict of parameter name to value, got %r" % (parameters,))
    for key in parameters:
        if not isinstance(key, str):
            raise ValueError("schedule parameter names must be strings, got %r" % (key,))
        if len(key) > MAX_PARAMETER_NAME:
            raise ValueError("schedule parameter name longer than %d characters: %r" % (MAX_PARAMETER_NAME, key[:60]))
    try:
        text = json.dumps(dict(parameters), allow_nan=False, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise ValueError("schedule parameters must be JSON values (str, int, float, bool, None, list, dict): %s"
                         % err)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PARAMETERS_BYTES:
        raise ValueError("schedule parameters are larger than %d bytes of JSON" % MAX_PARAMETERS_BYTES)
    return text


def _check_choice(name, value, allowed):
    # type: (str, Any, Tuple[str, ...]) -> str
    if value not in allowed or not isinstance(value, str):
        raise ValueError("%s must be one of %s, got %r" % (name, ", ".join(repr(a) for a in allowed), value))
    return value


def _check_choice_bool(active):
    # type: (Any) -> bool
    if not isinstance(active, bool):
        raise ValueError("active must be True or False, got %r" % (active,))
    return active
