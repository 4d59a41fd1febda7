"""The tap as a process: run to its end, or SIGKILLed at a chosen point of its output.

Everything these processes print goes to the session's secret scan.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import typing as t
from dataclasses import dataclass
from pathlib import Path

from tests.clock import tap_command
from tests.harness import TapRun, Warehouse
from tests.secret_scan import record_output

if t.TYPE_CHECKING:
    import io
    from collections.abc import Sequence

#: The tap as a process on the real clock (run_cli and run_and_kill use the emulator's).
TAP = [sys.executable, "-m", "tap_msgreports.tap"]
PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"
#: pytest in a process, with the project's own settings (as `make test` has them).
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(PYPROJECT)]
#: No tap process of the suite runs longer; a hang fails its test instead of the suite.
PROCESS_TIMEOUT = 300
READ_CHUNK = 1 << 16
STREAM_FIELD = re.compile(rb'"stream":\s*"([^"]+)"')
MESSAGE_TYPE = re.compile(rb'"type":\s*"([A-Z_]+)"')
RECORD_TYPE = re.compile(rb'"type":\s*"RECORD"')
STATE_TYPE = re.compile(rb'"type":\s*"STATE"')


def write_config(tmp_path: Path, config: dict[str, t.Any]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def run_recorded(
    command: Sequence[str], *, what: str, timeout: float = PROCESS_TIMEOUT, **kwargs: t.Any
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` with text output captured, and kept for the secret scan."""
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    record_output(f"{what} stdout", done.stdout)
    record_output(f"{what} stderr", done.stderr)
    return done


def run_cli(
    tmp_path: Path,
    config: dict[str, t.Any],
    env: dict[str, str] | None = None,
    arguments: Sequence[str] = (),
    timeout: float = PROCESS_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run the tap as a process on ``config`` (and more ``arguments``), to its end."""
    return run_recorded(
        [*tap_command(config), "--config", str(write_config(tmp_path, config)), *arguments],
        what="tap-msgreports",
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


@dataclass(frozen=True)
class KilledRun:
    """What a target holds after the tap was SIGKILLed, and where the kill landed.

    A target commits records when it receives the STATE that follows them, so what
    comes after the last STATE read is dropped: the harshest honest reading of a kill.
    """

    warehouse: Warehouse
    state: dict[str, t.Any] | None
    #: Bytes of stdout read before the kill: what the target received.
    read: int
    #: STATE messages among them.
    states: int
    #: The message the kill cut in two: ``RECORD``, ``STATE``, ... (``line start`` when cut
    #: before its type), or None when it fell between two messages.
    cut_message: str | None
    #: The stream whose message was being written at the kill (the last one, at a boundary).
    stream: str | None
    stderr: str


def run_and_kill(
    config: Path,
    *,
    after_states: int | None = None,
    after_bytes: int | None = None,
    env: dict[str, str] | None = None,
) -> KilledRun:
    """Run the tap and SIGKILL it once its stdout holds ``after_states`` STATEs or
    ``after_bytes`` bytes; the target is taken to have received exactly that much."""
    if (after_states is None) == (after_bytes is None):
        msg = "give after_states or after_bytes"
        raise ValueError(msg)
    with (
        tempfile.TemporaryFile() as stderr,
        subprocess.Popen(
            [*tap_command(json.loads(config.read_text())), "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, **(env or {})},
        ) as process,
    ):
        assert process.stdout is not None
        read, cut = bytearray(), None
        stdout = t.cast("io.BufferedReader", process.stdout)  # a pipe, read as it arrives
        while cut is None and (chunk := stdout.read1(READ_CHUNK)):
            read += chunk
            cut = _cut(read, after_states, after_bytes)
        if cut is not None:
            process.send_signal(signal.SIGKILL)
        process.stdout.close()
        process.wait(timeout=PROCESS_TIMEOUT)
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace")
    record_output("killed tap-msgreports stdout", bytes(read))
    record_output("killed tap-msgreports stderr", errors)
    assert process.returncode == -signal.SIGKILL, f"the tap ended before it was killed: {errors}"
    assert cut is not None
    return _received(bytes(read[:cut]), errors)


def run_until_killed(config: Path, kill_after_states: int) -> tuple[Warehouse, dict[str, t.Any]]:
    """Run the tap, SIGKILL it right after some STATE messages; keep what a target would."""
    killed = run_and_kill(config, after_states=kill_after_states)
    assert killed.state is not None
    return killed.warehouse, killed.state


def _cut(read: bytearray, after_states: int | None, after_bytes: int | None) -> int | None:
    """Where the output read so far is cut, once it is long enough."""
    if after_bytes is not None:
        return after_bytes if len(read) >= after_bytes else None
    assert after_states is not None
    end = 0
    for _ in range(after_states):
        found = STATE_TYPE.search(read, end)
        if found is None:
            return None
        end = read.find(b"\n", found.end())
        if end < 0:
            return None
        end += 1
    return end


def _message_type(partial: bytes) -> str | None:
    if not partial:
        return None
    found = MESSAGE_TYPE.search(partial)
    return found[1].decode() if found else "line start"


def _received(received: bytes, stderr: str) -> KilledRun:
    *lines, partial = received.split(b"\n")
    messages = [json.loads(line) for line in lines if line.strip()]
    last_state = max(
        (i for i, message in enumerate(messages) if message["type"] == "STATE"), default=-1
    )
    warehouse = Warehouse()
    warehouse.load(TapRun(messages[: last_state + 1]))
    cut_at = partial if partial.strip() else (lines[-1] if lines else b"")
    streams = (
        STREAM_FIELD.findall(cut_at)
        or [m["stream"].encode() for m in messages if "stream" in m][-1:]
    )
    return KilledRun(
        warehouse=warehouse,
        state=messages[last_state]["value"] if last_state >= 0 else None,
        read=len(received),
        states=sum(message["type"] == "STATE" for message in messages),
        cut_message=_message_type(partial),
        stream=streams[0].decode() if streams else None,
        stderr=stderr,
    )
