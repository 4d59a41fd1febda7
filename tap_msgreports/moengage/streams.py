"""moengage_campaign_rows: the rows of MoEngage campaign report files."""

from __future__ import annotations

import copy
import json
import typing as t

from tap_msgreports import sdk_compat
from tap_msgreports.errors import SourceError
from tap_msgreports.moengage import columns, files
from tap_msgreports.moengage.client import MoEngageStream
from tap_msgreports.schemas import schema_directory

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_msgreports.run import RunContext
    from tap_msgreports.windows import Window

#: CSV values are kept as text, exactly as in the file: nothing is lost or rounded.
CSV_COLUMN: dict[str, t.Any] = {"type": ["string", "null"]}


class CampaignRowsStream(MoEngageStream):
    """One record per row of a report file; columns come from the file's header."""

    name = "moengage_campaign_rows"
    primary_keys = ("report_name", "report_date", "row_number")
    replication_key = "report_date"

    def __init__(self, tap: Tap, *, run: RunContext | None = None) -> None:
        """Start from the fixed columns and those of the newest files' headers.

        Without an input catalog (discovery, or a run given none) the newest file of each
        report is probed for its header, so that the catalog lists the report's columns.
        Each file read later may still add columns (see :meth:`declare_columns`).
        """
        path = schema_directory() / f"{self.name}.json"
        super().__init__(tap, schema=json.loads(path.read_text(encoding="utf-8")), run=run)
        #: Each report's columns in its newest file seen (probed, or read in this run).
        self.report_columns: dict[str, list[str]] = {}
        if tap.input_catalog is None:
            for context in self.partitions:
                if header := self.probe_header(context):
                    names = columns.column_names(header)
                    self.report_columns[context["report_name"]] = names
                    sdk_compat.set_schema(self, _with_columns(self.schema, names))

    def records_from(
        self, body: t.IO[bytes], context: Context, window: Window
    ) -> Iterator[dict[str, t.Any]]:
        """The rows of a downloaded file, read lazily; the file is closed at the end.

        Its columns are declared first, all at once, from the headers of all its members
        (one SCHEMA message per file at most, however many members add columns).
        """
        what = self.file_name(context, window)
        fixed = {"report_name": context["report_name"], "report_date": window.first_day.isoformat()}
        row_number = 0
        with body:
            seen = self.file_columns(body, what)
            self.declare_columns(seen, what)
            for stream in files.csv_streams(body, self.max_file_bytes, what):
                header, rows = files.read_csv(stream, what, self.max_columns)
                names = columns.column_names(header)
                for fields in rows:
                    row_number += 1
                    yield {
                        **fixed,
                        "row_number": row_number,
                        **dict(zip(names, fields, strict=True)),
                    }
        self.note_lost_columns(context["report_name"], seen, what)

    def file_columns(self, body: t.IO[bytes], what: str) -> list[str]:
        """The columns of a file, over all its members, in order; at most ``max_columns``."""
        seen: dict[str, None] = {}  # ordered, without repeats
        for header in files.csv_headers(body, self.max_file_bytes, what, self.max_columns):
            seen.update(dict.fromkeys(columns.column_names(header)))
        if len(seen) > self.max_columns:
            msg = (
                f"{what} has {len(seen)} columns over its members, over "
                f"moengage_max_columns ({self.max_columns})"
            )
            raise SourceError(msg)
        return list(seen)

    def note_lost_columns(self, report: str, names: list[str], what: str) -> None:
        """Say, once per file, which columns of the report's previous file it lacks.

        Their values are null in its rows; that is no error (the report was rebuilt), but
        it is worth knowing. Compared per report: one schema holds every report's columns.
        """
        before = self.report_columns.get(report, [])
        if lost := [name for name in before if name not in names]:
            self.logger.info(
                "%s lacks columns of the report's previous file: %s (null in its rows)", what, lost
            )
        self.report_columns[report] = names

    def declare_columns(self, names: list[str], what: str) -> None:
        """Make sure the declared schema has these columns, before any row that uses them.

        The columns depend on how the report was built, so they are learnt from each
        file's header. A column the schema lacks (the first file, or a report whose
        definition changed) extends it (:meth:`redeclare_schema`). Rows are mapped by header
        name, never by position.
        """
        current = self.effective_schema  # the catalog's, when Meltano passed one
        new = [name for name in names if name not in current["properties"]]
        if not new:
            return
        if set(current["properties"]) - set(columns.FIXED_COLUMNS):
            self.logger.warning("%s has columns the schema did not have: %s", what, new)
        self.redeclare_schema(_with_columns(current, new))

    def redeclare_schema(self, schema: dict[str, t.Any]) -> None:
        """Make ``schema`` the stream's schema in the middle of a sync, and write its SCHEMA.

        The schema grows with the files' headers; see :func:`sdk_compat.replace_schema`.
        """
        sdk_compat.replace_schema(self, schema)


def _with_columns(schema: dict[str, t.Any], names: list[str]) -> dict[str, t.Any]:
    """A new schema: ``schema`` plus these text columns (``schema`` is not changed)."""
    extended = copy.deepcopy(schema)
    for name in names:
        extended["properties"].setdefault(name, CSV_COLUMN)
    return extended
