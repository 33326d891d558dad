"""A flow's parameter schema (from its signature) and conversion of JSON arguments back to the
Python types its annotations ask for."""
import collections.abc
import datetime
import decimal
import enum
import inspect
import json
import pathlib
import typing
from typing import Any, Callable, Dict, List

_BASIC_TYPES = {str: "str", int: "int", float: "float", bool: "bool", dict: "dict", list: "list"}
# JSON has only arrays, so every sequence-like hint is announced as a list.
_LIST_LIKE = (list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Set,
              collections.abc.MutableSequence, collections.abc.MutableSet, collections.abc.Iterable)
_DICT_LIKE = (dict, collections.abc.Mapping, collections.abc.MutableMapping)
_JSON_NATIVE = (str, int, float, bool, type(None), list, dict)
_NAMED_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _type_hints(func):
    # type: (Callable[..., Any]) -> Dict[str, Any]
    """Annotations, with string ones (``from __future__ import annotations``) evaluated.

    Each is resolved on its own so one unresolvable name does not lose the others, and without
    ``typing.get_type_hints``, which before Python 3.11 turns ``x: dict = None`` into
    ``Optional[dict]``.
    """
    hints = dict(getattr(func, "__annotations__", {}) or {})
    namespace = getattr(func, "__globals__", {})
    for name, hint in hints.items():
        if isinstance(hint, str):
            try:
                hints[name] = eval(hint, namespace, {})  # what get_type_hints does too
            except Exception:
                pass  # keep the text: an unknown name is still a useful description
    return hints


def _strip_optional(hint):
    # type: (Any) -> Any
    if typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


#: The server keeps type names up to this length; anything longer is announced as ``any``.
MAX_TYPE_TEXT = 100


def type_text(hint):
    # type: (Any) -> str
    """Describe a type hint the way the wire protocol wants it.

    ``str int float bool dict list`` for those types (and generic aliases of them, such as
    ``Dict[str, int]`` or ``Tuple[int, ...]``), ``any`` for a missing hint or ``Any``, otherwise
    the hint's name (``datetime``, ``Optional[int]``), which the server accepts as any value.
    Text longer than ``MAX_TYPE_TEXT`` becomes ``any``.
    """
    text = _type_text(hint)
    return text if len(text) <= MAX_TYPE_TEXT else "any"


def _type_text(hint):
    # type: (Any) -> str
    if hint is inspect.Parameter.empty or hint is typing.Any or hint is None:
        return "any"
    if isinstance(hint, str):
        text = hint.strip().strip("'\"")
        return text or "any"
    if isinstance(hint, type) and hint in _BASIC_TYPES:
        return _BASIC_TYPES[hint]
    origin = typing.get_origin(hint) or (hint if isinstance(hint, type) else None)
    if origin is not None and origin is not typing.Union:
        if origin in _DICT_LIKE:
            return "dict"
        if origin in _LIST_LIKE:
            return "list"
    if isinstance(hint, type):
        return hint.__name__
    inner = _strip_optional(hint)
    if inner is not hint:
        return "Optional[%s]" % _type_text(inner)
    return str(hint).replace("typing.", "")


_CHOICE_TYPES = ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"))


def _choices(hint):
    # type: (Any) -> Any
    """The allowed JSON values of a ``Literal[...]`` or ``Enum`` hint (members' values), else None."""
    inner = _strip_optional(hint)
    optional = inner is not hint
    hint = inner
    if typing.get_origin(hint) is typing.Literal:
        values = [v.value if isinstance(v, enum.Enum) else v for v in typing.get_args(hint)]
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        values = [member.value for member in hint]
    else:
        return None
    choices = []
    for value in values:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            return None  # a value JSON cannot carry: the server could never match it
        if value not in choices:
            choices.append(value)
    if optional and None not in choices:
        choices.append(None)  # Optional[...]: null is one of the allowed values
    return choices


def _choices_type(choices):
    # type: (List[Any]) -> str
    """The one JSON type every choice has (``str``, ``int``, ...), else ``any``."""
    choices = [c for c in choices if c is not None]
    for kind, text in _CHOICE_TYPES:
        if choices and all(isinstance(c, kind) and (kind is not int or not isinstance(c, bool)) for c in choices):
            return text
    if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices):
        return "float"
    return "any"


def _json_default(value):
    # type: (Any) -> Any
    if isinstance(value, enum.Enum):
        value = value.value
    elif isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    elif isinstance(value, (tuple, set, frozenset)):
        value = list(value)
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return repr(value)


def parameter_schema(func):
    # type: (Callable[..., Any]) -> List[Dict[str, Any]]
    """List the parameters a run can pass: ``{name, type, default?, required, choices?, kind?}``.

    ``Literal[...]`` and ``Enum`` hints add ``choices`` (the literal values, the members'
    values), so the server refuses anything else with a 400 naming the parameter. A
    ``**kwargs`` parameter is listed with ``kind: "var_keyword"``: the server then accepts names
    the signature does not list and the flow receives them in ``kwargs``. ``*args`` and
    positional-only parameters cannot be passed by name and are left out. Defaults that JSON
    cannot hold are sent as their ``repr``.
    """
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return []
    hints = _type_hints(func)
    schema = []
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            schema.append({"name": param.name, "type": "any", "required": False, "kind": "var_keyword"})
            continue
        if param.kind not in _NAMED_KINDS:
            continue
        hint = hints.get(param.name, param.annotation)
        entry = {"name": param.name, "type": type_text(hint)}  # type: Dict[str, Any]
        choices = _choices(hint)
        if choices is not None:
            entry["type"] = _choices_type(choices)
            entry["choices"] = choices
        if param.default is inspect.Parameter.empty:
            entry["required"] = True
        else:
            entry["default"] = _json_default(param.default)
            entry["required"] = False
        schema.append(entry)
    return schema


def coerce_value(value, hint):
    # type: (Any, Any) -> Any
    """Convert a JSON value to what ``hint`` asks for when the conversion is unambiguous
    (``"5"`` → 5 for ``int``, a list → tuple, an ISO string → ``date``); otherwise return it
    unchanged and let the flow decide."""
    if value is None or hint is inspect.Parameter.empty:
        return value
    target = _strip_optional(hint)
    origin = typing.get_origin(target) or target
    try:
        if origin is bool:
            if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.strip().lower() in ("true", "1", "yes")
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
        elif origin is int and not isinstance(value, bool):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str):
                return int(value.strip())
        elif origin is float and not isinstance(value, bool):
            if isinstance(value, (int, str)):
                return float(value)
        elif origin is str:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return str(value)
        elif origin in (tuple, set, frozenset) and isinstance(value, list):
            return origin(value)
        elif origin is datetime.datetime and isinstance(value, str):
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif origin is datetime.date and isinstance(value, str):
            return datetime.date.fromisoformat(value[:10])
        elif origin is decimal.Decimal and isinstance(value, (int, float, str)):
            return decimal.Decimal(str(value))
        elif isinstance(origin, type) and issubclass(origin, (enum.Enum, pathlib.PurePath)):
            return origin(value)
    except (ValueError, TypeError, ArithmeticError):
        pass
    return value


def coerce_arguments(func, parameters):
    # type: (Callable[..., Any], Dict[str, Any]) -> Dict[str, Any]
    """Build keyword arguments for ``func`` from a run's JSON ``parameters``.

    Values are converted per the annotations (see ``coerce_value``). A value equal to what the
    schema announced for a default that JSON cannot hold (its ``repr``, an enum's value, ...) is
    that default itself: the server fills in defaults before the run reaches the worker. Unknown
    names are dropped unless the function takes ``**kwargs``; missing required ones are left for
    Python to report.
    """
    parameters = dict(parameters or {})
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return parameters
    hints = _type_hints(func)
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    kwargs = {}
    for name, value in parameters.items():
        param = signature.parameters.get(name)
        if param is not None and param.kind in _NAMED_KINDS:
            default = param.default
            if (default is not inspect.Parameter.empty and type(default) not in _JSON_NATIVE
                    and value == _json_default(default)):
                kwargs[name] = default
            else:
                kwargs[name] = coerce_value(value, hints.get(name, param.annotation))
        elif takes_kwargs:
            kwargs[name] = value
    return kwargs
