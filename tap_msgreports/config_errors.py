"""Config validation messages that name the setting and what it must be, never its value.

The JSON-schema messages quote the value they refuse (``'[{"passcode": ...}]' is not of
type 'array'``): a secret given with the wrong type, or pasted into another setting, would
be printed. Each refusal is written again here from the schema alone: the setting's path
(``clevertap_accounts[0].passcode``), what the schema expects, and the kind of value given.
"""

from __future__ import annotations

import json
import typing as t

from singer_sdk.typing import DEFAULT_JSONSCHEMA_VALIDATOR, extend_validator_with_defaults

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

#: The SDK's validator: it also fills in the declared defaults, as the SDK's check does.
VALIDATOR = extend_validator_with_defaults(DEFAULT_JSONSCHEMA_VALIDATOR)

JSON_TYPES = {
    "string": "a string",
    "array": "an array",
    "object": "an object",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


class SchemaError(t.Protocol):
    """What is read of a ``jsonschema`` validation error (its ``message`` never is)."""

    validator: str
    validator_value: t.Any
    instance: t.Any
    absolute_path: Iterable[str | int]


#: Left to ``settings.range_problems``, which names the range and the value in one line, and
#: only for the sources configured: reported here too, a value out of range would be two lines.
RANGES = frozenset({"minimum", "maximum"})


def schema_problems(config: dict[str, t.Any], schema: Mapping[str, t.Any]) -> list[str]:
    """One line per value the schema refuses (defaults filled in, as the SDK does)."""
    errors: Iterable[SchemaError] = VALIDATOR(schema).iter_errors(config)
    return [describe(error) for error in errors if error.validator not in RANGES]


def describe(error: SchemaError) -> str:
    """``<path> must be <what the schema says>, got <kind of value>``: no value shown."""
    expectation = EXPECTATIONS.get(error.validator, _matching_its_schema)(error)
    return f"{setting_path(error.absolute_path)} {expectation}"


def setting_path(path: Iterable[str | int]) -> str:
    """``clevertap_accounts[0].passcode``, or ``the config`` for the config itself."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "the config"


def kind_of(value: object) -> str:
    """What a value is, in JSON's words (never what it holds)."""
    kinds: tuple[tuple[type | tuple[type, ...], str], ...] = (
        (str, "a string"),
        (bool, "true or false"),
        ((int, float), "a number"),
        (list, "an array"),
        (dict, "an object"),
    )
    return next((name for types, name in kinds if isinstance(value, types)), "null")


def _of_type(error: SchemaError) -> str:
    wanted = error.validator_value
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    given = kind_of(error.instance)
    if isinstance(error.instance, str) and {"array", "object"} & set(wanted):
        given += f" ({_what_the_text_is(error.instance)})"
    return f"must be {' or '.join(JSON_TYPES.get(name, name) for name in wanted)}, got {given}"


def _what_the_text_is(text: str) -> str:
    """Whether text given where an array or object belongs holds JSON.

    Meltano passes a setting it has no ``kind`` for as text, JSON or not.
    """
    try:
        parsed = json.loads(text)
    except ValueError:
        return "not valid JSON"
    return f"JSON text of {kind_of(parsed)}: give the value itself, not as text"


def _one_of(error: SchemaError) -> str:
    allowed = ", ".join(json.dumps(value) for value in error.validator_value)
    return f"must be one of {allowed}"


def _required(error: SchemaError) -> str:
    given = error.instance if isinstance(error.instance, dict) else {}
    missing = [name for name in error.validator_value if name not in given]
    return f"needs {', '.join(missing)}"


def _matching_its_schema(error: SchemaError) -> str:
    return f"does not match what the setting accepts ({error.validator}; see --about)"


EXPECTATIONS: dict[str, Callable[[SchemaError], str]] = {
    "type": _of_type,
    "enum": _one_of,
    "const": lambda error: f"must be {json.dumps(error.validator_value)}",
    "required": _required,
    "format": lambda error: f"must be in {error.validator_value} format",
    "additionalProperties": lambda _: "has a property that is not a setting (see --about)",
}
