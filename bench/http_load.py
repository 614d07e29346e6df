"""HTTP load at fixed concurrency with wrk, the same way for every endpoint compared.

Each connection cycles through a list of (path, headers) requests; a Lua `done` hook prints
the totals and latency percentiles as JSON so nothing is parsed from wrk's prose. A pause
between a connection's requests (wrk's `delay` hook) makes a light steady load instead of the
most the server can take.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.processes import free_port

__all__ = ["wrk_path", "run_wrk", "free_port", "LoadRequest"]

LoadRequest = tuple[str, Mapping[str, str]]

DONE_HOOK = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"mean_us":%.1f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def _script(requests: Sequence[LoadRequest], pause_ms: int = 0) -> str:
    """Requests as a Lua table, handed out round robin from a per-thread offset; each
    connection waits `pause_ms` before its next request."""
    rows = []
    for path, headers in requests:
        fields = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
        rows.append(f"  {{{_lua_string(path)}, {{{fields}}}}},")
    return "\n".join([
        "local requests = {", *rows, "}",
        "local counter = 1",
        "setup = function(thread) thread:set('offset', math.random(#requests)) end",
        "init = function(args) counter = (tonumber(offset) or 1) end",
        "request = function()",
        "  local r = requests[counter]",
        "  counter = counter % #requests + 1",
        "  return wrk.format('GET', r[1], r[2])",
        "end",
        *([f"delay = function() return {pause_ms} end"] if pause_ms else []),
        DONE_HOOK,
    ])


def run_wrk(base_url: str, requests: Sequence[LoadRequest], seconds: float,
            connections: int = 64, threads: int = 2, pause_ms: int = 0) -> dict[str, Any]:
    """Requests/s, latency percentiles (ms) and errors of one wrk run."""
    wrk = wrk_path()
    if wrk is None:
        raise FileNotFoundError("wrk is not installed (apt-get install -y wrk; `make bench` does)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_script(requests, pause_ms))
    try:
        result = subprocess.run(
            [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
             "--timeout", "10s", "-s", script.name, base_url],
            capture_output=True, text=True, timeout=seconds + 120)
    finally:
        Path(script.name).unlink(missing_ok=True)
    line = next((x for x in result.stdout.splitlines() if x.startswith("JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary: {result.stdout[-500:]} {result.stderr[-500:]}")
    return _summary(json.loads(line[5:]), connections, threads)


def _summary(raw: dict[str, Any], connections: int, threads: int) -> dict[str, Any]:
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors",
                                  "status_errors", "timeouts"))
    return {
        "requests": raw["requests"], "seconds": round(seconds, 2),
        "rate": round(raw["requests"] / seconds), "connections": connections,
        "threads": threads, "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000, "max_ms": raw["max_us"] / 1000,
        "errors": errors, "non_2xx": raw["status_errors"],
    }
