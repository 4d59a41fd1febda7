"""Column names from CSV headers: snake_case, valid unquoted in PostgreSQL and Snowflake.

``All Platform Sent`` becomes ``all_platform_sent``; a name that starts with a digit gets a
``c_`` prefix, a reserved word an ``_`` suffix; names are cut to 63 characters (PostgreSQL's
limit) and made unique with ``_2``, ``_3``... when two headers normalise alike or clash
with the tap's own columns. The mapping is a pure function of the header, so the same
header gives the same columns in every run.
"""

from __future__ import annotations

import re
import typing as t
import unicodedata

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

MAX_LENGTH = 63
FIXED_COLUMNS = ("report_name", "report_date", "row_number")
#: Words that cannot be a bare column name somewhere: PostgreSQL's reserved key words (both
#: "reserved" and "reserved (can be function or type)", as of PostgreSQL 16) and every keyword
#: of Snowflake's "Reserved & limited keywords" list.
RESERVED = frozenset(
    """
    account all alter analyse analyze and any array as asc asymmetric authorization between
    binary both by case cast check collate collation column concurrently connect connection
    constraint create cross current current_catalog current_date current_role current_schema
    current_time current_timestamp current_user database default deferrable delete desc
    distinct do drop else end except exists false fetch following for foreign freeze from full
    grant group gscluster having ilike in increment initially inner insert intersect into is
    isnull issue join lateral leading left like limit localtime localtimestamp minus natural
    not notnull null of offset on only or order organization outer overlaps placing primary
    qualify references regexp returning revoke right rlike row rows sample schema select
    session_user set similar some start symmetric system_user table tablesample then to
    trailing trigger true try_cast union unique update user using values variadic verbose view
    when whenever where window with
    """.split()  # noqa: SIM905 - a word list reads better as text
)


def snake(header: str) -> str:
    """One header as a bare snake_case identifier (before uniqueness)."""
    ascii_text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode()
    spaced = re.sub(r"([a-z0-9])([A-Z][a-z])", r"\1_\2", ascii_text)  # campaignId, not iOS
    name = re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_") or "column"
    if name[0].isdigit():
        name = f"c_{name}"
    if name in RESERVED:
        name = f"{name}_"
    return name[:MAX_LENGTH]


def column_names(headers: Sequence[str], taken: Iterable[str] = FIXED_COLUMNS) -> list[str]:
    """Unique column names for a header row, none equal to a name already ``taken``."""
    used = set(taken)
    names = []
    for header in headers:
        base = snake(header)
        name, n = base, 1
        while name in used:
            n += 1
            suffix = f"_{n}"
            name = base[: MAX_LENGTH - len(suffix)] + suffix
        used.add(name)
        names.append(name)
    return names
