"""Run inside meltanolabs-target-snowflake's venv: the DDL it would give our columns.

Reads ``{"config": {...}, "streams": {stream: {property: json_schema}}}`` on stdin, writes
``{stream: {property: {"type": ..., "quoted": bool, "name": ...}}}`` on stdout: the Snowflake
type the target's own connector maps each property to, whether its identifier preparer would
quote the name (a reserved word or a name that is not a plain identifier), and the name as
Snowflake stores it. The tests compare this with what a warehouse user expects.
"""

from __future__ import annotations

import json
import sys

from snowflake.sqlalchemy.snowdialect import SnowflakeDialect
from sqlalchemy.sql.compiler import RESERVED_WORDS
from target_snowflake.connector import SnowflakeConnector


def main() -> None:
    request = json.load(sys.stdin)
    connector = SnowflakeConnector(config=request["config"])  # no connection is made
    dialect = SnowflakeDialect()
    preparer = dialect.identifier_preparer
    preparer.reserved_words |= RESERVED_WORDS  # as the target's engine does
    columns: dict[str, dict[str, dict[str, object]]] = {}
    for stream, properties in request["streams"].items():
        columns[stream] = {
            name: {
                "type": str(connector.to_sql_type(schema).compile(dialect=dialect)),
                "quoted": preparer._requires_quotes(name),  # what its DDL would do
                "name": name.upper(),
            }
            for name, schema in properties.items()
        }
    json.dump(columns, sys.stdout)


if __name__ == "__main__":
    main()
