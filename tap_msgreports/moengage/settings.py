"""MoEngage settings: workspace, key, data center, report names and how files are read."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

from tap_msgreports.moengage.files import DEFAULT_MAX_COLUMNS, app_id_problem, file_name_problem
from tap_msgreports.settings import (
    credential_problem,
    range_problem,
    schema_defaults,
    settings_with_defaults,
    url_problem,
)

if t.TYPE_CHECKING:
    from collections.abc import Mapping

DATA_CENTERS = ("01", "02", "03", "04", "05", "06", "101")
SIGNATURE_PLACES = ("header", "query", "both")
#: The documented signature alone, or with HTTP Basic auth too (workspace id and API key), as
#: public clients send it: which one a workspace needs is not documented (api-notes 5.3).
AUTH_MODES = ("signature", "signature+basic")
DEFAULT_MAX_FILE_MB = 4096
MAX_FILE_MB = 1 << 20  # a TiB: beyond it the setting is a typo
MAX_COLUMNS = 10_000  # beyond it no warehouse table takes the report
DEFAULT_MAX_CONCURRENCY = 2  # files are large: a couple downloading while one is written

PROPERTIES = th.PropertiesList(
    th.Property(
        "moengage_app_id",
        th.StringType,
        title="MoEngage workspace id",
        description="Workspace id (earlier App ID): Settings > Account > APIs.",
    ),
    th.Property(
        "moengage_secret_key",
        th.StringType,
        secret=True,
        title="MoEngage campaign report API key",
        description="The campaign report API key (earlier the API Secret); signs each file name.",
    ),
    th.Property(
        "moengage_data_center",
        th.StringType,
        default="01",
        allowed_values=list(DATA_CENTERS),
        title="MoEngage data center",
        description="01 to 06 or 101, as in the dashboard URL: https://api-{dc}.moengage.com.",
    ),
    th.Property(
        "moengage_api_url",
        th.StringType,
        title="MoEngage API URL",
        description=(
            "Full base URL, overriding the data center (the tap appends "
            "/campaign_reports/rest_api/{app_id}/{file})."
        ),
    ),
    th.Property(
        "moengage_reports",
        th.ArrayType(th.StringType),
        default=[],
        title="MoEngage reports",
        description=(
            "Report names as written in the campaign report builder (spaces allowed); each "
            "is one partition; its file for a date is the name with spaces as _, then "
            "_YYYYMMDD.zip."
        ),
    ),
    th.Property(
        "moengage_signature_in",
        th.StringType,
        default="header",
        allowed_values=list(SIGNATURE_PLACES),
        title="MoEngage signature placement",
        description="Send the signature as the Signature header, a query parameter, or both.",
    ),
    th.Property(
        "moengage_auth",
        th.StringType,
        default="signature",
        allowed_values=list(AUTH_MODES),
        title="MoEngage authentication",
        description=(
            "signature: the signature alone, as documented; signature+basic: also HTTP Basic "
            "auth with the workspace id as user and the API key as password, as public "
            "clients send. Try signature+basic when a valid key gets 401."
        ),
    ),
    th.Property(
        "moengage_max_file_mb",
        th.IntegerType,
        default=DEFAULT_MAX_FILE_MB,
        title="MoEngage file size limit (MB)",
        description=(
            "Largest report file accepted, downloaded or once inflated: a file beyond it "
            "(a ZIP bomb, a runaway body) is refused."
        ),
    ),
    th.Property(
        "moengage_max_columns",
        th.IntegerType,
        default=DEFAULT_MAX_COLUMNS,
        title="MoEngage columns per report file",
        description=(
            "Most columns one report file may have, all its CSV members together: a file "
            "with more (a hostile or broken file) is refused. Real reports have tens."
        ),
    ),
    th.Property(
        "moengage_max_concurrency",
        th.IntegerType,
        default=DEFAULT_MAX_CONCURRENCY,
        title="MoEngage downloads in flight",
        description="Files downloaded at once while earlier ones are written.",
    ),
)


def is_configured(config: Mapping[str, t.Any]) -> bool:
    """MoEngage is a source of this run when its workspace id or key is set."""
    return bool(config.get("moengage_app_id") or config.get("moengage_secret_key"))


DEFAULTS = schema_defaults(PROPERTIES)


def base_url(config: Mapping[str, t.Any]) -> str:
    """The configured URL, else the data center's host."""
    return MoEngageSettings.from_config(config).base_url


class MoEngageSettings(t.NamedTuple):
    """The MoEngage settings read as values (immutable), with the schema's defaults."""

    reports: list[str]
    #: Whether downloads also carry HTTP Basic auth (``moengage_auth``).
    sends_basic_auth: bool
    #: The configured URL, else the data center's host.
    base_url: str
    signature_in: str
    max_file_mb: int
    max_columns: int
    max_concurrency: int

    @classmethod
    def from_config(cls, config: Mapping[str, t.Any]) -> MoEngageSettings:
        """Read the settings once, defaults applied."""
        value = settings_with_defaults(config, DEFAULTS)
        url = value["moengage_api_url"]
        return cls(
            reports=[str(name) for name in value["moengage_reports"]],
            sends_basic_auth=str(value["moengage_auth"]) == "signature+basic",
            base_url=str(url).rstrip("/")
            if url
            else f"https://api-{value['moengage_data_center']}.moengage.com",
            signature_in=str(value["moengage_signature_in"]),
            max_file_mb=int(value["moengage_max_file_mb"]),
            max_columns=int(value["moengage_max_columns"]),
            max_concurrency=int(value["moengage_max_concurrency"]),
        )


def problems(config: Mapping[str, t.Any]) -> list[str]:
    """One line per invalid MoEngage setting; empty when MoEngage is not configured."""
    if not is_configured(config):
        return []
    found = []
    if not config.get("moengage_app_id") or not config.get("moengage_secret_key"):
        found.append("moengage_app_id and moengage_secret_key must both be set")
    found += [
        problem
        for name in ("moengage_app_id", "moengage_secret_key")
        if (problem := credential_problem(str(config.get(name) or ""), name))
    ]
    if problem := app_id_problem(str(config.get("moengage_app_id") or "")):
        found.append(problem)
    if config.get("moengage_api_url") and (
        problem := url_problem(str(config["moengage_api_url"]), "moengage_api_url", config)
    ):
        found.append(problem)
    names = MoEngageSettings.from_config(config).reports
    if not names:
        found.append("moengage_reports is empty: name at least one report")
    found += [f"moengage_reports: {p}" for name in names if (p := file_name_problem(name))]
    if len(set(names)) != len(names):
        found.append("moengage_reports names a report twice")
    return found + _number_problems(config)


def _number_problems(config: Mapping[str, t.Any]) -> list[str]:
    found = []
    chosen = MoEngageSettings.from_config(config)
    if problem := range_problem("moengage_max_file_mb", chosen.max_file_mb, 1, MAX_FILE_MB):
        found.append(problem)
    if problem := range_problem("moengage_max_columns", chosen.max_columns, 1, MAX_COLUMNS):
        found.append(problem)
    concurrency = chosen.max_concurrency
    if not 1 <= concurrency <= 8:  # noqa: PLR2004
        found.append(f"moengage_max_concurrency must be 1 to 8, got {concurrency}")
    return found
