"""TapMsgReports: the settings, and which streams exist for the configured sources."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import threading
import typing as t

import click
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities

from tap_msgreports import clevertap, config_errors, messangi, moengage, redaction, settings
from tap_msgreports.check import check_connections
from tap_msgreports.errors import SourceError
from tap_msgreports.run import RunContext
from tap_msgreports.sdk_compat import ConfigInput, SdkTap
from tap_msgreports.state import StateFileError, parse_state_text, usable_state
from tap_msgreports.stopping import StopRequested
from tap_msgreports.writer import BufferedMsgSpecWriter

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk.streams import Stream

    from tap_msgreports.client import WindowedReportStream

SOURCES = (clevertap.SOURCE, messangi.SOURCE, moengage.SOURCE)
NO_SOURCE = "No source is configured: set " + "; or ".join(s.settings.CREDENTIALS for s in SOURCES)


class TapMsgReports(SdkTap):
    """Messaging-campaign reports from CleverTap, Messangi and MoEngage."""

    name = "tap-msgreports"
    #: Which streams exist, and MoEngage's columns, depend on the settings: discovery
    #: validates them first, so that a bad config is one line there too.
    dynamic_catalog = True
    message_writer_class = BufferedMsgSpecWriter
    config_jsonschema = th.PropertiesList(
        *settings.COMMON_PROPERTIES.wrapped.values(),
        *(prop for source in SOURCES for prop in source.settings.PROPERTIES.wrapped.values()),
    ).to_dict()

    #: No BATCH: batch files are written after records leave ``get_records``, so the
    #: per-window STATE this tap emits could run ahead of the data it vouches for.
    capabilities: t.ClassVar = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ANN401
        """Set up the tap, and mask its secrets in every log line from now on."""
        redaction.install(())  # per-request secrets (signatures) from the first request on
        self.run = RunContext()  # before the SDK makes the streams
        self.stop = self.run.stop
        super().__init__(*args, **kwargs)
        if isinstance(self.message_writer, BufferedMsgSpecWriter):
            self.message_writer.stop = self.stop
        redaction.install(redaction.secret_values(self.config, self.config_jsonschema))

    @classmethod
    def environment_settings(cls, prefix: str) -> dict[str, t.Any]:
        """Settings from the environment; one that does not parse is left to validation."""
        cls.append_builtin_config(cls.config_jsonschema)
        return settings.environment_config(cls.config_jsonschema, prefix)

    def discover_streams(self) -> list[Stream]:
        """The streams of every configured source (none configured: ConfigValidationError)."""
        streams: list[Stream] = [
            stream_type(self, run=self.run)
            for source in SOURCES
            if source.settings.is_configured(self.config)
            for stream_type in source.stream_types
        ]
        if not streams:
            raise ConfigValidationError(NO_SOURCE, errors=[NO_SOURCE])
        return streams

    def validate_settings(self, config: dict[str, t.Any], *, raise_errors: bool) -> list[str]:
        """The schema checks, then ours: every problem, one line each, no value shown."""
        settings.coerce_numbers(config, self.config_jsonschema)
        # From the first message on, should a value still reach one.
        redaction.install(redaction.secret_values(config, self.config_jsonschema))
        self.append_builtin_config(self.config_jsonschema)
        errors = config_errors.schema_problems(config, self.config_jsonschema)
        if not errors:  # our checks read typed values: only once the types are right
            errors = self.config_problems(self.config)
        if errors and raise_errors:
            summary = "Invalid tap-msgreports settings: " + "; ".join(errors)
            raise ConfigValidationError(summary, errors=errors)
        if errors:
            self.logger.warning("Config validation failed")
        return errors

    @staticmethod
    def config_problems(config: t.Mapping[str, t.Any]) -> list[str]:
        """Problems the JSON schema cannot see: ranges, names, combinations."""
        found = settings.config_problems(config)
        for source in SOURCES:
            found += source.settings.problems(config)
        if not any(source.settings.is_configured(config) for source in SOURCES):
            found.append(NO_SOURCE)
        return found

    def load_state(self, state: dict[str, t.Any]) -> None:
        """Load the parts of the state that have a state's shape; warn of the others."""
        super().load_state(self.checked_state(state))

    @classmethod
    def checked_state(cls, state: object) -> dict[str, t.Any]:
        """The parts of ``state`` the SDK can read; one warning per part left out."""
        usable, dropped = usable_state(state)
        for problem in dropped:
            cls.logger.warning("Ignoring part of the state: %s", problem)
        return usable

    @classmethod
    def invoke(cls, **kwargs: t.Any) -> None:  # noqa: ANN401
        """Run the CLI; a refusal (a source's, an unreadable state) is one line, status 1."""
        with cls.one_line_errors():
            if (state := kwargs.get("state")) is not None:  # read here to say what is wrong
                usable = cls.checked_state(parse_state_text(state.read()))
                kwargs["state"] = io.StringIO(json.dumps(usable))
            super().invoke(**kwargs)

    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test``: the SDK's dry run (a record per stream), its refusals one line each."""
        with cls.one_line_errors():
            super().cb_test(ctx, param, value)

    @classmethod
    def cb_check(cls, ctx: click.Context, param: click.Option, value: bool) -> None:  # noqa: FBT001
        """``--check``: one request per account, channel and report; exit 0 if all answered."""
        del param
        if not value:
            return
        config: ConfigInput = ctx.params.get("config", ConfigInput())
        with cls.one_line_errors():
            tap = cls(config=config.config, parse_env_config=config.parse_env, setup_mapper=False)
            outcomes = check_connections(
                t.cast("Iterable[WindowedReportStream]", tap.streams.values())
            )
        for outcome in outcomes:
            click.echo(outcome.line())
        ctx.exit(0 if all(outcome.answered for outcome in outcomes) else 1)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, with ``--check``."""
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--check"],
                is_flag=True,
                expose_value=False,
                callback=cls.cb_check,
                help=(
                    "Check the connection to every configured CleverTap account, Messangi "
                    "channel and MoEngage report with one small request each, print one line "
                    "each, and exit non-zero if any failed."
                ),
            )
        )
        return command

    @classmethod
    @contextlib.contextmanager
    def one_line_errors(cls) -> Iterator[None]:
        """A source's refusal or an unreadable state ends the process with one line, status 1."""
        try:
            yield
        except StopRequested as stop:
            cls.stop_now(stop)
        except (SourceError, StateFileError) as exc:
            cls.logger.error("%s", exc)  # noqa: TRY400 - the message says it all
            cls.exit_without_fetches(1)
        except BrokenPipeError:
            # The target ended: its own error says why. Nothing more can be written.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            cls.logger.error("The target stopped reading this tap's output; see its error")  # noqa: TRY400
            sys.exit(1)

    #: The tap whose signal handlers are installed: the one a signal stops.
    _signalled: t.ClassVar[TapMsgReports | None] = None

    def signal_handlers_installed(self) -> None:
        """Remember whose handlers are installed: the tap a signal stops."""
        if threading.current_thread() is threading.main_thread():
            TapMsgReports._signalled = self

    def on_termination(self, signum: int) -> None:
        """SIGTERM, SIGINT: stop now, or at the next safe point if output is under way.

        A second signal ends the process at once: the first one's stop is stuck (say, on a
        target that reads no more).
        """
        if self.stop.requested:
            os._exit(StopRequested(signum).exit_status)
        self.stop.request(signum)
        if not self.stop.deferring:
            self.stop_now(StopRequested(signum))

    @classmethod
    def stop_now(cls, stop: StopRequested) -> t.NoReturn:
        """End the output whole, say the run may be resumed, exit with 128 + the signal."""
        tap = cls._signalled
        if tap is not None and isinstance(tap.message_writer, BufferedMsgSpecWriter):
            tap.message_writer.end_on_stop()
        cls.logger.warning(  # an operator's stop, not a failure: the exit status says it
            "Stopped by %s: the last STATE written covers only records written; "
            "the next run resumes from it",
            stop,
        )
        cls.exit_without_fetches(stop.exit_status)

    @staticmethod
    def exit_without_fetches(status: int) -> t.NoReturn:
        """Exit with ``status``, not waiting for worker threads still in a request or a wait.

        Joining them could take as long as a request may (``request_timeout``), and their
        results are not wanted any more.
        """
        main = threading.main_thread()
        if any(thread.is_alive() for thread in threading.enumerate() if thread is not main):
            with contextlib.suppress(OSError, ValueError):  # a closed or broken stdout
                sys.stdout.flush()
            logging.shutdown()  # flush every log handler: os._exit does not
            os._exit(status)
        sys.exit(status)


if __name__ == "__main__":
    TapMsgReports.cli()
