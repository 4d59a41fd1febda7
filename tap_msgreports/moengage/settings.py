"""MoEngage settings: workspace, key, data center, report names and how files are read."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from singer_sdk import typing as th

from tap_msgreports.moengage.files import DEFAULT_MAX_COLUMNS, app_id_problem, file_name_problem
from tap_msgreports.settings import SourceSettings, credential_problem, range_problems, url_problem

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
MAX_CONCURRENCY = 8

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
        th.IntegerType(minimum=1, maximum=MAX_FILE_MB),
        default=DEFAULT_MAX_FILE_MB,
        title="MoEngage file size limit (MB)",
        description=(
            "Largest report file accepted, downloaded or once inflated: a file beyond it "
            "(a ZIP bomb, a runaway body) is refused."
        ),
    ),
    th.Property(
        "moengage_max_columns",
        th.IntegerType(minimum=1, maximum=MAX_COLUMNS),
        default=DEFAULT_MAX_COLUMNS,
        title="MoEngage columns per report file",
        description=(
            "Most columns one report file may have, all its CSV members together: a file "
            "with more (a hostile or broken file) is refused. Real reports have tens."
        ),
    ),
    th.Property(
        "moengage_max_concurrency",
        th.IntegerType(minimum=1, maximum=MAX_CONCURRENCY),
        default=DEFAULT_MAX_CONCURRENCY,
        title="MoEngage downloads in flight",
        description="Files downloaded at once while earlier ones are written.",
    ),
)


#: The settings that make MoEngage a source of this run, for the message when none is.
CREDENTIALS = "moengage_app_id, moengage_secret_key and moengage_reports"


def is_configured(config: Mapping[str, t.Any]) -> bool:
    """MoEngage is a source of this run when its workspace id or key is set."""
    return bool(config.get("moengage_app_id") or config.get("moengage_secret_key"))


def base_url(config: Mapping[str, t.Any]) -> str:
    """The configured URL, else the data center's host."""
    return MoEngageSettings.from_config(config).base_url


@dataclass(frozen=True)
class MoEngageSettings(SourceSettings):
    """The MoEngage settings read as values, each with the default its schema declares."""

    PREFIX = "moengage_"
    PROPERTIES = PROPERTIES

    reports: list[str]
    auth: str
    data_center: str
    api_url: str | None
    signature_in: str
    max_file_mb: int
    max_columns: int

    @property
    def sends_basic_auth(self) -> bool:
        """Whether downloads also carry HTTP Basic auth (``moengage_auth``)."""
        return self.auth == "signature+basic"

    @property
    def base_url(self) -> str:
        """The configured URL, else the data center's host."""
        if self.api_url:
            return self.api_url.rstrip("/")
        return f"https://api-{self.data_center}.moengage.com"


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
    return found + range_problems(PROPERTIES, config)
