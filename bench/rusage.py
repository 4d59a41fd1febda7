"""Run a command, and write its wall time and peak RSS as JSON: a small, clean parent for it.

Usage: python -I -S bench/rusage.py RESULT.json COMMAND [ARG ...]

Why a launcher: Linux keeps, across ``exec``, the RSS high-water mark of the process that
forked the command (``exec_mmap`` stores the old memory map's peak in the child's
``maxrss``). A command started by the benchmark harness, which holds an emulator and its
data, would report the harness's peak instead of its own (measured: a 10 MB command started
from a 300 MB parent reports 310 MB). Started from this process (a few MB), its ``wait4``
peak is its own. Stdin, stdout and stderr are passed through; the exit status is the
command's. Only the standard library, and no ``site``: it stays small and starts fast.
"""

import json
import os
import subprocess
import sys
import time


def main() -> None:
    result, command = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = code = os.waitstatus_to_exitcode(status)
    with open(result, "w", encoding="utf-8") as out:  # noqa: PTH123 - no pathlib import: small
        json.dump({"seconds": seconds, "peak_rss_kb": usage.ru_maxrss, "returncode": code}, out)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
