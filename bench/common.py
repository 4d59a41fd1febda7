"""What every benchmark shares: an emulator, timed subprocesses, peak RSS, interleaved medians.

- :class:`BenchEmulator` is the loopback emulator with two additions: it records the requests
  it answers (to check that the tap and its baseline fetch exactly the same windows) and, when
  asked, it answers a request it has answered before from a cache of encoded replies, so that
  generating and encoding the data (which the real vendor does on its own machines) is not
  charged to whichever side of a benchmark comes first, and the server is not the bottleneck
  (as in the shared SDK notes, section 2, where every page was pre-encoded).
- :func:`run_process` runs one command in a session of its own with stdout to /dev/null or a
  file, times it, and takes its peak RSS from the kernel (``os.wait4``, in bench/rusage.py, a
  small parent of its own). A watchdog kills the command's process group (and only it) when
  it outlives its timeout.
- :func:`interleaved` runs each side of a comparison several times, alternating the order, and
  :func:`median` summarises them: machines are shared and noisy.

Everything runs on loopback, and every wait is bounded.
"""

from __future__ import annotations

import compileall
import contextlib
import dataclasses
import datetime as dt
import functools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import typing as t
from collections import Counter
from pathlib import Path

from tap_msgreports_emulator import EmulatorServer, World
from tap_msgreports_emulator.control import CONTROL_PREFIX
from tap_msgreports_emulator.messangi_data import CHANNELS as MESSANGI_CHANNELS

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from tap_msgreports_emulator.faults import FaultPlan
    from tap_msgreports_emulator.vendor import Reply, Request

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
# The scripts run as `python bench/x.py`: make the repository's `tests` package importable
# (bench/e2e.py uses tests/e2e/postgres.py). Every script imports this module first.
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))
PYTHON = sys.executable
TAP = (PYTHON, "-m", "tap_msgreports.tap")
BASELINE = (PYTHON, str(BENCH / "baseline.py"))
RUSAGE = BENCH / "rusage.py"
#: How long an emulator may live at most: it always stops by itself.
EMULATOR_LIFETIME = 1800
#: The tail of a failed command's stderr shown in the error.
STDERR_TAIL = 3000
#: Variables removed from the environment of every measured command. PYTHONUNBUFFERED makes
#: each write to stdout a system call; a tap run by Meltano or redirected to a file has its
#: stdout buffered, and a shell that exports it (some sessions do) must not change the figures.
#: It matters, and not in the obvious direction: with it, the tap's main thread releases the
#: GIL on every record and its fetch-ahead workers wait less (measured: 2.2 s instead of 2.5 s
#: for 200,000 lines, while the baseline does not move).
#: PYTHONDONTWRITEBYTECODE (some shells export it too) makes every run of the tap compile its
#: sixty-odd modules from source, as no installed tap does (pip compiles them at install):
#: 0.17 s per run measured, charged to the tap alone (the baseline is one small script). The
#: bytecode is written before the first run (:func:`compile_tap`), as an install would.
UNSET_FOR_MEASUREMENTS = ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE")

Signature = tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...], str, str]


class BenchError(RuntimeError):
    """A benchmark could not measure what it promised (a failed run, unequal requests)."""


# ----- the emulator ---------------------------------------------------------------------------


def emulator_today() -> dt.date:
    """The emulator's today: two days back, so that every day served is over in every zone."""
    return dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=2)


class BenchEmulator(EmulatorServer):
    """The emulator, recording what it is asked and (optionally) caching what it answers."""

    def __init__(
        self,
        world: World,
        faults: FaultPlan | None = None,
        *,
        cache: bool = False,
        max_lifetime: float = EMULATOR_LIFETIME,
    ) -> None:
        """Create the server; ``cache`` answers a repeated request from its first reply."""
        super().__init__(world, faults, max_lifetime=max_lifetime)
        self.cache = cache
        self._bench_lock = threading.Lock()
        self._seen: Counter[Signature] = Counter()
        self._replies: dict[Signature, Reply] = {}

    def dispatch(self, request: Request) -> Reply:
        """Record the request; answer it from the cache when it holds the reply."""
        if request.path.startswith(CONTROL_PREFIX):
            return super().dispatch(request)
        key = signature(request)
        with self._bench_lock:
            self._seen[key] += 1
            cached = self._replies.get(key) if self.cache else None
        if cached is not None:
            return cached
        reply = super().dispatch(request)
        response = reply.response
        cacheable = (
            response is not None
            and response.status == 200  # noqa: PLR2004
            and response.file is None
            and reply.after is None
            and not reply.truncate
        )
        if self.cache and cacheable:
            with self._bench_lock:
                self._replies[key] = reply
        return reply

    def take_requests(self) -> Counter[Signature]:
        """The requests answered since the last call (by signature, with their counts)."""
        with self._bench_lock:
            seen, self._seen = self._seen, Counter()
        return seen


def signature(request: Request) -> Signature:
    """What identifies a request: method, path, query, JSON body and who is asking."""
    query = tuple(sorted((name, tuple(values)) for name, values in request.query.items()))
    body = ""
    if request.body:
        try:
            body = json.dumps(json.loads(request.body), sort_keys=True)
        except ValueError:
            body = request.body.decode("utf-8", "replace")
    who = request.header("Authorization") or request.header("X-CleverTap-Account-Id") or ""
    return (request.method, request.path, query, body, who)


def same_requests(tap: Counter[Signature], baseline: Counter[Signature], what: str) -> None:
    """Refuse a comparison whose two sides did not fetch exactly the same requests.

    Raises:
        BenchError: naming a few of the requests only one side made.
    """
    if tap == baseline:
        return
    only_tap = [key[:3] for key in (tap - baseline).elements()][:3]  # no credentials shown
    only_baseline = [key[:3] for key in (baseline - tap).elements()][:3]
    msg = (
        f"{what}: the tap and the baseline did not fetch the same requests "
        f"({sum(tap.values())} against {sum(baseline.values())}); "
        f"only the tap: {only_tap}; only the baseline: {only_baseline}"
    )
    raise BenchError(msg)


@contextlib.contextmanager
def emulator(
    world: World | None = None,
    faults: FaultPlan | None = None,
    *,
    cache: bool = False,
) -> Iterator[BenchEmulator]:
    """A running :class:`BenchEmulator` (its today is :func:`emulator_today`), stopped on exit."""
    world = world if world is not None else World(seed=1, today=emulator_today())
    server = BenchEmulator(world, faults, cache=cache)
    with server:
        yield server


def source_config(server: EmulatorServer, prefix: str, **settings: object) -> dict[str, t.Any]:
    """The emulator's settings of one source (keys starting with ``prefix``), plus ``settings``."""
    config = {k: v for k, v in server.tap_config().items() if k.startswith(prefix)}
    return config | settings


# ----- running and timing a command ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Run:
    """One finished command: wall time, peak RSS (of the process itself) and its stderr tail."""

    seconds: float
    peak_rss_mb: float
    stderr_tail: str


def run_process(  # noqa: PLR0913 - each is a plain knob of one subprocess
    command: Sequence[str],
    *,
    timeout: float,
    stdout: Path | None = None,
    stdin: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
) -> Run:
    """Run a command to its end, timed, stdout to /dev/null (or ``stdout``), stderr kept.

    The environment is this process's (or ``env``) without :data:`UNSET_FOR_MEASUREMENTS`.
    The command is started by bench/rusage.py, a small clean parent that times it and takes
    its peak RSS with ``wait4``: started from this process, which holds an emulator and its
    data, it would report this process's peak RSS instead of its own (see rusage.py).

    Raises:
        BenchError: when the command fails or outlives ``timeout`` (then it is killed).
    """
    name = Path(command[0]).name if command[0] != PYTHON else " ".join(command[1:3])
    with contextlib.ExitStack() as stack:
        out = stack.enter_context((stdout or Path(os.devnull)).open("wb"))
        into = stack.enter_context((stdin or Path(os.devnull)).open("rb"))
        err = stack.enter_context(tempfile.TemporaryFile())
        result = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-run-")))
        result /= "rusage.json"
        process = subprocess.Popen(
            [PYTHON, "-I", "-S", str(RUSAGE), str(result), *command],
            stdin=into,
            stdout=out,
            stderr=err,
            env={
                name: value
                for name, value in (os.environ if env is None else env).items()
                if name not in UNSET_FOR_MEASUREMENTS
            },
            cwd=cwd,
            start_new_session=True,  # its own process group: a timeout ends it and its children
        )
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

        watchdog = threading.Timer(timeout, kill)
        watchdog.start()
        try:
            process.wait()
        finally:
            watchdog.cancel()
        err.seek(0)
        err_text = err.read().decode("utf-8", "replace")
        tail = err_text[-STDERR_TAIL:]
        measured = json.loads(result.read_text()) if result.exists() else None
    if expired.is_set():
        msg = f"{name} did not finish within {timeout:.0f} s and was killed; stderr:\n{tail}"
        raise BenchError(msg)
    if process.returncode or measured is None:
        msg = f"{name} exited with {process.returncode}; {_keep(err_text)}; its end:\n{tail}"
        raise BenchError(msg)
    return Run(measured["seconds"], measured["peak_rss_kb"] / 1024, tail)


def _keep(stderr: str) -> str:
    """Keep a failed command's whole stderr in a file that outlives the run; say where."""
    handle, path = tempfile.mkstemp(prefix="bench-failed-", suffix=".stderr.txt")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(stderr)
    return f"whole stderr in {path}"


@functools.cache
def compile_tap() -> None:
    """Write the tap's bytecode once, as installing it would (see UNSET_FOR_MEASUREMENTS)."""
    compileall.compile_dir(ROOT / "tap_msgreports", quiet=1)


def run_tap(  # noqa: PLR0913 - each is a plain knob of one tap run
    config: Mapping[str, t.Any],
    *,
    timeout: float,
    stdout: Path | None = None,
    catalog: Mapping[str, t.Any] | None = None,
    state: Mapping[str, t.Any] | None = None,
    prefix: Sequence[str] = (),
) -> Run:
    """Run the tap as a subprocess with this config (and catalog, state), timed.

    ``prefix`` goes before the module, e.g. ``("-m", "cProfile", "-s", "cumtime")``.
    """
    compile_tap()
    with tempfile.TemporaryDirectory(prefix="bench-tap-") as tmp:
        arguments = ["--config", _write(Path(tmp) / "config.json", config)]
        if catalog is not None:
            arguments += ["--catalog", _write(Path(tmp) / "catalog.json", catalog)]
        if state is not None:
            arguments += ["--state", _write(Path(tmp) / "state.json", state)]
        return run_process([TAP[0], *prefix, *TAP[1:], *arguments], timeout=timeout, stdout=stdout)


def run_baseline(plan: Mapping[str, t.Any], *, timeout: float, stdout: Path | None = None) -> Run:
    """Run bench/baseline.py over a plan of requests (see :func:`request_plan`), timed."""
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        path = _write(Path(tmp) / "plan.json", plan)
        return run_process([*BASELINE, path], timeout=timeout, stdout=stdout)


def request_plan(
    stream: str, records_key: str, requests: Sequence[Mapping[str, t.Any]]
) -> dict[str, t.Any]:
    """What bench/baseline.py fetches: each request's method, url, params, headers, json."""
    return {"stream": stream, "records_key": records_key, "requests": list(requests)}


def midnight(day: dt.date) -> dt.datetime:
    """A UTC day's first moment."""
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)


def messangi_plan(
    config: Mapping[str, t.Any],
    start: dt.datetime,
    end: dt.datetime,
    hours: int,
    channels: Sequence[str] = MESSANGI_CHANNELS,
) -> dict[str, t.Any]:
    """The requests the tap makes for ``[start, end)`` in windows of ``hours``, per channel.

    Channel after channel in the tap's order, windows oldest first, ``from``/``to`` in UTC with
    milliseconds, readable keys (``pretty=true``), the bearer key: what the baseline fetches.
    """
    url = str(config["messangi_api_url"]).rstrip("/") + "/v3/mlog"
    headers = {"Authorization": f"Bearer {config['messangi_api_key']}"}
    requests = []
    for channel in channels:
        cursor = start
        while cursor < end:
            window_end = min(cursor + dt.timedelta(hours=hours), end)
            params = {
                "from": iso_ms(cursor),
                "to": iso_ms(window_end),
                "pretty": "true",
                "channel": channel,
            }
            requests.append({"method": "GET", "url": url, "params": params, "headers": headers})
            cursor = window_end
    return request_plan("mlog_items", "items", requests)


def iso_ms(moment: dt.datetime) -> str:
    """A UTC time as Messangi takes it: milliseconds and ``Z``."""
    utc = moment.astimezone(dt.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def discovered_catalog(config: Mapping[str, t.Any], selected: set[str]) -> dict[str, t.Any]:
    """The tap's catalog for ``config`` with only the ``selected`` streams selected."""
    with tempfile.TemporaryDirectory(prefix="bench-discover-") as tmp:
        path = _write(Path(tmp) / "config.json", config)
        done = subprocess.run(
            [*TAP, "--config", path, "--discover"],
            capture_output=True,
            check=True,
            timeout=120,
        )
    catalog: dict[str, t.Any] = json.loads(done.stdout)
    for entry in catalog["streams"]:
        for metadata in entry.get("metadata", []):
            if metadata.get("breadcrumb") == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in selected
    return catalog


def count_records(path: Path) -> int:
    """The RECORD messages in a file of Singer messages."""
    with path.open("rb") as lines:
        return sum(1 for line in lines if b'"type":"RECORD"' in line.replace(b" ", b""))


def _write(path: Path, value: object) -> str:
    path.write_text(json.dumps(value))
    return str(path)


# ----- repeats and medians ---------------------------------------------------------------------


def interleaved(
    sides: Mapping[str, Callable[[], float]],
    repeats: int,
    *,
    progress: Callable[[str], None] | None = None,
) -> dict[str, list[float]]:
    """Run every side ``repeats`` times, interleaved, the order reversed every other round."""
    names = list(sides)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(repeats):
        for name in names if round_number % 2 == 0 else reversed(names):
            value = sides[name]()
            samples[name].append(value)
            if progress is not None:
                progress(f"  {name} #{len(samples[name])}: {value:.2f}")
    return samples


def median(values: Sequence[float]) -> float:
    """The median of a side's samples."""
    return float(statistics.median(values))


def samples_text(values: Sequence[float], unit: str = "s") -> str:
    """Samples as a short list, e.g. ``2.31, 2.40, 2.35 s``."""
    return ", ".join(f"{value:.2f}" for value in values) + f" {unit}"


def log(message: str) -> None:
    """A progress line on stderr (stdout holds the results)."""
    print(message, file=sys.stderr, flush=True)


# ----- one figure of the table -------------------------------------------------------------------


@dataclasses.dataclass
class Figure:
    """One row of the table: what was measured, both sides, the ratio and the goal."""

    figure: str
    tap: str
    baseline: str
    ratio: float | None
    goal: str
    met: bool | None
    details: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def row(self) -> list[str]:
        """The table cells."""
        ratio = "n/a" if self.ratio is None else f"{self.ratio:.2f}"
        met = "n/a" if self.met is None else ("yes" if self.met else "NO")
        return [self.figure, self.tap, self.baseline, ratio, self.goal, met]


HEADERS = ["figure", "tap", "baseline", "ratio", "goal", "met?"]


def table(figures: Sequence[Figure], *, markdown: bool = False) -> str:
    """The figures as an aligned text table, or as a Markdown table."""
    rows = [HEADERS, *(figure.row() for figure in figures)]
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in rows]
        lines.insert(1, "|" + "|".join(" --- " for _ in HEADERS) + "|")
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def print_figures(figures: Sequence[Figure]) -> None:
    """Print a script's figures as a table, then their details."""
    print(table(figures))
    for figure in figures:
        for line in figure.details:
            print(f"  {line}")
