"""A state handed to the tap, checked for its shape before the SDK reads it.

A Singer state is ``{"bookmarks": {stream: {..., "partitions": [{"context": {...}, ...}]}}}``.
A part of a corrupted or foreign state without that shape would crash the SDK (it calls
``.items()`` and ``.pop()`` on what it finds): such a part is dropped with one warning, and
what it held is read again from ``start_date`` (rows repeated, none lost). A state file
that is not JSON at all is refused, since nothing in it can be trusted.
"""

from __future__ import annotations

import json
import typing as t

#: Keys of a stream's or a partition's state whose values the SDK uses as objects.
_OBJECT_KEYS = ("progress_markers", "context")


class StateFileError(ValueError):
    """The state file cannot be read as JSON."""


def parse_state_text(text: str) -> object:
    """The JSON of a state file (StateFileError, saying what to do, if it is not JSON)."""
    try:
        return json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        msg = (
            f"the state file is not valid JSON ({exc.msg} at line {exc.lineno}): repair it, "
            "or remove it to read every stream from start_date again"
        )
        raise StateFileError(msg) from None


def usable_state(state: object) -> tuple[dict[str, t.Any], list[str]]:
    """The parts of ``state`` that have a Singer state's shape, and one line per part dropped."""
    if not isinstance(state, dict):
        return {}, [f"the state is {_kind(state)}, not an object: it is ignored"]
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        return {}, [f"the state's bookmarks are {_kind(bookmarks)}, not an object: ignored"]
    usable: dict[str, t.Any] = {}
    dropped: list[str] = []
    for stream, stream_state in bookmarks.items():
        if not isinstance(stream_state, dict):
            dropped.append(f"the state of stream {stream!r} is {_kind(stream_state)}: ignored")
            continue
        usable[stream] = _usable_stream_state(str(stream), stream_state, dropped)
    return {"bookmarks": usable}, dropped


def _usable_stream_state(
    stream: str, stream_state: dict[str, t.Any], dropped: list[str]
) -> dict[str, t.Any]:
    kept = _without_bad_objects(stream_state, f"stream {stream!r}", dropped)
    partitions = kept.get("partitions")
    if partitions is None:
        return kept
    if not isinstance(partitions, list):
        dropped.append(f"the partitions of stream {stream!r} are {_kind(partitions)}: ignored")
        return {key: value for key, value in kept.items() if key != "partitions"}
    good = []
    for partition in partitions:
        if isinstance(partition, dict) and isinstance(partition.get("context"), dict):
            good.append(_without_bad_objects(partition, f"a partition of {stream!r}", dropped))
        else:
            dropped.append(f"a partition of stream {stream!r} has no context object: ignored")
    return {**kept, "partitions": good}


def _without_bad_objects(
    part: dict[str, t.Any], where: str, dropped: list[str]
) -> dict[str, t.Any]:
    bad = [key for key in _OBJECT_KEYS if key in part and not isinstance(part[key], dict)]
    dropped.extend(f"{key} of {where} is {_kind(part[key])}, not an object: ignored" for key in bad)
    return {key: value for key, value in part.items() if key not in bad}


def _kind(value: object) -> str:
    return "null" if value is None else f"a {type(value).__name__}"
