"""Every singer-sdk internal this tap uses, in this one module.

The SDK's public API cannot write a record without a message object, move a bookmark per
window, change a schema mid-sync, parse the environment as ``--config ENV`` does, or handle
a signal safely. Each use says why and was checked against singer-sdk 0.54.9 (the pin allows
0.54.x only); ``tests/unit/test_sdk_compat.py`` checks every name in :data:`CHECKED` against
the installed SDK, so an upgrade that changes one fails there, not in a user's run.
"""

from __future__ import annotations

import typing as t

from singer_sdk import RESTStream, Stream, Tap, metrics

# Why: settings from the environment are parsed as the SDK parses them, one by one when a
# value does not parse, to name the setting without quoting the value (0.54.9).
from singer_sdk.configuration._dict_config import parse_environment_config

# Why: the SDK declares ``_env_var_config`` with it; an override must be one too (0.54.9).
from singer_sdk.helpers._classproperty import classproperty

# Why: a partition's state found without creating it, as ``get_context_state`` would
# (planning every partition must not add empty ones to a STATE) (0.54.9).
from singer_sdk.helpers._state import get_state_if_exists

# Why: the ``--check`` callback reads ``--config`` as the SDK's own callbacks do (0.54.9).
from singer_sdk.plugin_base import _ConfigInput as ConfigInput

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers.types import Context

__all__ = ["ConfigInput", "SdkStream", "SdkTap", "parse_environment_config"]

#: The singer-sdk versions these internals were checked against: from, and up to (excluded).
CHECKED_FROM = (0, 54, 9)
CHECKED_BELOW = (0, 55)

#: Every SDK internal used here: owner, name, a method's parameters (None for an attribute,
#: whose assignment the owner's source must contain).
CHECKED: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("singer_sdk.Stream", "_write_record_message", ("self", "record")),
    ("singer_sdk.Stream", "_increment_stream_state", ("self", "latest_record", "context")),
    ("singer_sdk.Stream", "_write_state_message", ("self",)),
    ("singer_sdk.Stream", "_write_schema_message", ("self",)),
    ("singer_sdk.Stream", "_get_state_partition_context", ("self", "context")),
    ("singer_sdk.Stream", "_tap", None),
    ("singer_sdk.Stream", "_stream_version", None),
    ("singer_sdk.Stream", "_schema", None),
    ("singer_sdk.Stream", "_input_schema", None),
    ("singer_sdk.Stream", "_stream_maps", None),
    ("singer_sdk.Tap", "_validate_config", ("self", "raise_errors")),
    ("singer_sdk.Tap", "_setup_signal_handlers", ("self",)),
    ("singer_sdk.Tap", "_handle_termination", ("self", "signum", "frame")),
    ("singer_sdk.Tap", "_config", None),
    ("singer_sdk.Tap", "_env_var_config", None),
    ("singer_sdk.Tap", "_env_var_prefix", None),
    ("singer_sdk.metrics.Counter", "_pop", ("self",)),
    ("singer_sdk.helpers._state", "get_state_if_exists", ("tap_state", "tap_stream_id")),
    ("singer_sdk.helpers._classproperty", "classproperty", None),
    ("singer_sdk.plugin_base", "_ConfigInput", None),
    (
        "singer_sdk.configuration._dict_config",
        "parse_environment_config",
        ("config_schema", "prefix", "dotenv_path"),
    ),
)


def stored_partition_state(stream: Stream, context: Context) -> t.Mapping[str, t.Any]:
    """A partition's state as stored, without making one as ``get_context_state`` does.

    Why: ``get_context_state``'s own lookup, with the same internals (0.54.9).
    """
    partition = stream._get_state_partition_context(context)  # noqa: SLF001
    found = get_state_if_exists(stream.tap_state, stream.name, partition)
    return found if isinstance(found, dict) else {}


def write_state(stream: Stream) -> None:
    """Write the stream's STATE now. Why: the SDK writes it only at its own points (0.54.9)."""
    stream._write_state_message()  # noqa: SLF001


def stream_version(stream: Stream) -> int | None:
    """The version on RECORD messages. Why: records written directly carry it too (0.54.9)."""
    return stream._stream_version  # noqa: SLF001


def tap_of(stream: Stream) -> Tap:
    """The tap that made ``stream``. Why: ``Stream`` keeps it without a public name (0.54.9)."""
    return stream._tap  # noqa: SLF001


def set_schema(stream: Stream, schema: dict[str, t.Any]) -> None:
    """Give a stream being set up a schema learnt after the SDK's ``__init__`` (no SCHEMA yet).

    Why: ``Stream.schema`` has no setter; ``Stream._schema`` is what it returns (0.54.9).
    """
    stream._schema = schema  # noqa: SLF001


def replace_schema(stream: Stream, schema: dict[str, t.Any]) -> None:
    """Make ``schema`` the stream's schema mid-sync and write its SCHEMA (the maps' too).

    Why: no public way to change a schema once set up (0.54.9). ``_input_schema`` is the
    catalog's, which ``effective_schema`` prefers; ``_stream_maps`` caches maps of the old
    schema. tests/test_moengage_runs.py (``test_a_header_growing_mid_run_...``) shows it.
    """
    mapper = tap_of(stream).mapper
    set_schema(stream, schema)
    if stream._input_schema is not None:  # noqa: SLF001
        stream._input_schema = schema  # noqa: SLF001
    mapper.register_raw_stream_schema(stream.name, schema, stream.primary_keys)
    stream._stream_maps = mapper.stream_maps[stream.name]  # noqa: SLF001
    stream._write_schema_message()  # noqa: SLF001


def log_and_restart(counter: metrics.Counter) -> None:
    """Log the counter's point now and count again from zero.

    Why: a counter logs only on its own interval or on exit (0.54.9).
    """
    counter._pop()  # noqa: SLF001


class SdkStream(RESTStream[None]):
    """The SDK's private stream hooks, overridden here and handed on under public names."""

    def write_record_directly(self, record: dict[str, t.Any]) -> bool:
        """Write a RECORD without the SDK's message objects, if possible; False if not."""
        del record
        return False

    def _write_record_message(self, record: dict[str, t.Any]) -> None:
        """Why: the SDK builds message objects per record, most of a run's cost (0.54.9)."""
        if not self.write_record_directly(record):
            super()._write_record_message(record)

    def _increment_stream_state(
        self, latest_record: dict[str, t.Any], *, context: Context | None = None
    ) -> None:
        """Why: records never move a bookmark here; windows do, once written (0.54.9)."""


class SdkTap(Tap):
    """The SDK's private tap hooks, overridden here and handed on under public names."""

    @classproperty
    def _env_var_config(cls) -> dict[str, t.Any]:  # noqa: N805 - as the SDK declares it
        """Why: the SDK's parsing error quotes the value, a secret maybe (0.54.9)."""
        return cls.environment_settings(cls._env_var_prefix)

    @classmethod
    def environment_settings(cls, prefix: str) -> dict[str, t.Any]:
        """The settings given as environment variables named ``<prefix><SETTING>``."""
        return parse_environment_config(cls.config_jsonschema, prefix)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Why: the SDK's schema messages quote the values they refuse (0.54.9)."""
        return self.validate_settings(self._config, raise_errors=raise_errors)

    def validate_settings(self, config: dict[str, t.Any], *, raise_errors: bool) -> list[str]:
        """Check ``config`` (the tap's own, which may be fixed in place); the problems."""
        del config
        return super()._validate_config(raise_errors=raise_errors)

    def _setup_signal_handlers(self) -> None:
        """Why: the tap must know whose handlers are installed (0.54.9)."""
        super()._setup_signal_handlers()
        self.signal_handlers_installed()

    def signal_handlers_installed(self) -> None:
        """Called once SIGTERM and SIGINT go to :meth:`on_termination`."""

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """Why: the SDK's handler raises anywhere and exits 0 (0.54.9)."""
        del frame
        self.on_termination(signum)

    def on_termination(self, signum: int) -> None:
        """SIGTERM or SIGINT arrived: by default the SDK's handling."""
        super()._handle_termination(signum, None)
