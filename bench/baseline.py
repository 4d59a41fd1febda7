"""The bare baseline: fetch a list of requests one after another, write one RECORD per item.

Usage: .venv/bin/python bench/baseline.py PLAN.json > out

PLAN.json: ``{"stream": ..., "records_key": ..., "requests": [{"method", "url", "params",
"headers", "json"}, ...]}`` (bench/common.py writes it). Each response is read with
``requests`` (one keep-alive Session) and parsed with ``json``; each item of
``body[records_key]`` becomes a minimal Singer RECORD line written with ``json.dumps``, as
baseline (a) of the shared SDK notes (section 2) does. Nothing else: no SDK, no
threads, no retries; any failure stops it with a non-zero status.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import requests

TIMEOUT = 120


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text())
    stream, key = plan["stream"], plan["records_key"]
    write = sys.stdout.write
    with requests.Session() as session:
        for request in plan["requests"]:
            response = session.request(
                request["method"],
                request["url"],
                params=request.get("params"),
                headers=request.get("headers"),
                json=request.get("json"),
                timeout=TIMEOUT,
            )
            response.raise_for_status()
            body = json.loads(response.content)
            for item in body[key]:
                write(json.dumps({"type": "RECORD", "stream": stream, "record": item}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
