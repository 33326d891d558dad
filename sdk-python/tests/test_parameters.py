"""Parameter schema from signatures, and JSON values coerced back to annotated types."""
import datetime
import enum
import os
import sys
import unittest
from typing import Any, Dict, List, Literal, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from perfect_client.parameters import coerce_arguments, parameter_schema, type_text  # noqa: E402


class Color(enum.Enum):
    RED = "red"


def every_kind(region: str, limit: int = 100, ratio: float = 0.5, dry_run: bool = False,
               options: dict = None, items: list = ("a", "b"), mapping: Dict[str, int] = None,
               numbers: List[int] = None, pair: Tuple[int, int] = (1, 2), maybe: Optional[int] = None,
               when: datetime.date = datetime.date(2026, 1, 2), color: Color = Color.RED,
               anything: Any = None, untyped=object, *args, **kwargs):
    return locals()


def forward_refs(a: "int", b: "Unknown" = 1):  # noqa: F821 - deliberately unresolvable
    return a, b


class SchemaTests(unittest.TestCase):
    def test_types_defaults_and_required(self):
        schema = {p["name"]: p for p in parameter_schema(every_kind)}
        self.assertEqual(list(schema), ["region", "limit", "ratio", "dry_run", "options", "items", "mapping",
                                        "numbers", "pair", "maybe", "when", "color", "anything", "untyped",
                                        "kwargs"])
        self.assertEqual(schema["region"], {"name": "region", "type": "str", "required": True})
        self.assertEqual(schema["limit"], {"name": "limit", "type": "int", "default": 100, "required": False})
        self.assertEqual(schema["ratio"]["type"], "float")
        self.assertEqual(schema["dry_run"], {"name": "dry_run", "type": "bool", "default": False, "required": False})
        self.assertEqual(schema["options"]["type"], "dict")
        self.assertIsNone(schema["options"]["default"])
        self.assertEqual(schema["items"], {"name": "items", "type": "list", "default": ["a", "b"], "required": False})
        self.assertEqual(schema["mapping"]["type"], "dict")
        self.assertEqual(schema["numbers"]["type"], "list")
        self.assertEqual(schema["pair"]["type"], "list")
        self.assertEqual(schema["maybe"]["type"], "Optional[int]")
        self.assertEqual(schema["when"], {"name": "when", "type": "date", "default": "2026-01-02", "required": False})
        self.assertEqual(schema["color"], {"name": "color", "type": "str", "choices": ["red"], "default": "red",
                                           "required": False})
        self.assertEqual(schema["anything"]["type"], "any")
        self.assertEqual(schema["untyped"]["type"], "any")
        # Not JSON-serialisable: sent as repr text.
        self.assertEqual(schema["untyped"]["default"], repr(object))

    def test_var_keyword_is_announced_so_extra_names_reach_kwargs(self):
        schema = parameter_schema(every_kind)
        self.assertEqual(schema[-1], {"name": "kwargs", "type": "any", "required": False, "kind": "var_keyword"})
        self.assertNotIn("args", [p["name"] for p in schema])

        def fixed(a: int = 1):
            return a

        self.assertNotIn("var_keyword", [p.get("kind") for p in parameter_schema(fixed)])

    def test_literal_and_enum_send_their_choices(self):
        class Size(enum.Enum):
            SMALL = 1
            LARGE = 2

        def painted(colour: Literal["red", "green"], size: Size = Size.SMALL,
                    level: Optional[Literal[1, 2, 3]] = None, mixed: Literal["a", 1] = "a"):
            return colour

        schema = {p["name"]: p for p in parameter_schema(painted)}
        self.assertEqual(schema["colour"], {"name": "colour", "type": "str", "choices": ["red", "green"],
                                            "required": True})
        self.assertEqual(schema["size"], {"name": "size", "type": "int", "choices": [1, 2], "default": 1,
                                          "required": False})
        self.assertEqual(schema["level"]["choices"], [1, 2, 3, None])
        self.assertEqual(schema["level"]["type"], "int")
        self.assertEqual(schema["mixed"]["type"], "any")
        self.assertEqual(schema["mixed"]["choices"], ["a", 1])
        self.assertIs(coerce_arguments(painted, {"colour": "red", "size": 2})["size"], Size.LARGE)

    def test_datetime_and_date_are_typed_and_converted(self):
        def dated(at: datetime.datetime, day: datetime.date = datetime.date(2026, 1, 1)):
            return at

        schema = {p["name"]: p for p in parameter_schema(dated)}
        self.assertEqual(schema["at"]["type"], "datetime")
        self.assertEqual(schema["day"]["type"], "date")
        kwargs = coerce_arguments(dated, {"at": "2026-11-24T10:30:00Z", "day": "2026-11-25"})
        self.assertEqual(kwargs["at"], datetime.datetime(2026, 11, 24, 10, 30, tzinfo=datetime.timezone.utc))
        self.assertEqual(kwargs["day"], datetime.date(2026, 11, 25))

    def test_string_annotations(self):
        schema = parameter_schema(forward_refs)
        self.assertEqual([p["type"] for p in schema], ["int", "Unknown"])

    def test_type_text_of_classes(self):
        self.assertEqual(type_text(datetime.datetime), "datetime")
        self.assertEqual(type_text(tuple), "list")


class CoercionTests(unittest.TestCase):
    def test_json_values_become_annotated_types(self):
        kwargs = coerce_arguments(every_kind, {
            "region": 7, "limit": "42", "ratio": 1, "dry_run": "true", "pair": [3, 4], "maybe": 5.0,
            "when": "2026-11-24", "color": "red", "numbers": [1, 2], "unknown": 1,
        })
        self.assertEqual(kwargs["region"], "7")
        self.assertEqual(kwargs["limit"], 42)
        self.assertIsInstance(kwargs["ratio"], float)
        self.assertIs(kwargs["dry_run"], True)
        self.assertEqual(kwargs["pair"], (3, 4))
        self.assertEqual(kwargs["maybe"], 5)
        self.assertIsInstance(kwargs["maybe"], int)
        self.assertEqual(kwargs["when"], datetime.date(2026, 11, 24))
        self.assertIs(kwargs["color"], Color.RED)
        self.assertEqual(kwargs["numbers"], [1, 2])
        # every_kind takes **kwargs, so unknown names are passed through
        self.assertEqual(kwargs["unknown"], 1)

    def test_announced_defaults_come_back_as_the_real_objects(self):
        schema = {p["name"]: p["default"] for p in parameter_schema(every_kind) if "default" in p}
        kwargs = coerce_arguments(every_kind, dict(schema, region="eu"))
        self.assertIs(kwargs["untyped"], object)
        self.assertIs(kwargs["color"], Color.RED)
        self.assertEqual(kwargs["pair"], (1, 2))
        self.assertEqual(kwargs["when"], datetime.date(2026, 1, 2))
        self.assertEqual(kwargs["limit"], 100)

    def test_unknown_names_dropped_without_var_kwargs(self):
        def f(a: int = 1):
            return a

        self.assertEqual(coerce_arguments(f, {"a": "2", "b": 3}), {"a": 2})

    def test_unconvertible_values_are_left_alone(self):
        def f(n: int = 1):
            return n

        self.assertEqual(coerce_arguments(f, {"n": "abc"}), {"n": "abc"})


if __name__ == "__main__":
    unittest.main()
