"""Soak the meter: normal bot traffic while other clients misbehave, all on loopback.

    python benchmarks/meter_soak.py                 # 60 s
    python benchmarks/meter_soak.py --seconds 15    # shorter

`ht-dash meter` runs as its own process (open-file limit 1024, `--timeout 5`, other options at
their defaults) in front of a loopback upstream (a child process). For the whole run, one child
sends normal traffic (8 keep-alive connections, ~100 requests/s through the meter, and the same
pace straight to the upstream as the floor), while another keeps up:

- 150 slow readers asking for a 50 MB body and never reading it,
- 100 slowloris connections sending their headers one byte every 0.4 s,
- 1,100 idle connections (more than the meter has descriptors),
- 10 uploads of 31 MiB that stall halfway,
- a CONNECT every 100 ms (a bot with HTTPS_PROXY pointed at the meter).

Then SIGTERM. Printed: records lost (normal traffic and CONNECT answered but not in the database),
the meter's open descriptors (peak, and after the load stopped), its peak RSS, the p99 and p50
latency the meter adds to normal traffic (against the same pace sent straight to the upstream,
which the crowd loads too), how long it took to stop, and how many lines it wrote on stderr.
Not a test: CI does not run it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing
import os
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIG = 50 * 1000 * 1000
NORMAL_PATH = "/api/external/segments/{}/summary"
NORMAL_CONNECTIONS = 8
NORMAL_RATE = 100.0  # requests per second through the meter, all connections together
METER_NOFILE = 1024


# ---- the upstream (child process) ---------------------------------------------------------------


async def _upstream_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    body = b'{"items":[{"coin":"BTC","size":1.5}],"nextCursor":null}'
    ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            if head.startswith(b"CONNECT "):  # what a forward proxy answers
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                while await reader.read(65536):
                    pass
                return
            if b" /api/external/big " in head.split(b"\r\n", 1)[0]:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % BIG)
                chunk = b"x" * 1_000_000
                for _ in range(BIG // len(chunk)):
                    writer.write(chunk)
                    await writer.drain()
                continue
            writer.write(ok)
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


def _run_upstream(port_out: multiprocessing.connection.Connection) -> None:
    _raise_nofile()

    async def main() -> None:
        server = await asyncio.start_server(_upstream_conn, "127.0.0.1", 0, backlog=1024)
        port_out.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


# ---- normal traffic (child process) -------------------------------------------------------------


async def _request(reader, writer, path: str) -> tuple[int, bytes, bool]:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bot\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length, close = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"connection" and b"close" in value.lower():
            close = True
    return status, await reader.readexactly(length), close


async def _normal_connection(port: int, index: int, until: float, rate: float, out: dict) -> None:
    interval = 1.0 / rate
    reader = writer = None
    n = 0
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), 10
                )
            status, body, close = await asyncio.wait_for(
                _request(reader, writer, NORMAL_PATH.format(index * 100_000 + n)), 30
            )
            elapsed = time.monotonic() - started
            if b"too_many_connections" in body:
                out["turned_away"] += 1
            else:
                out["answered"] += 1
                out["statuses"][status] = out["statuses"].get(status, 0) + 1
                out["latencies"].append(elapsed)  # 504s included: they are what the bot waited
            if close:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            out["failed"] += 1
            if writer is not None:
                writer.close()
            writer = None
        n += 1
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
    if writer is not None:
        writer.close()


def _run_normal(meter_port: int, upstream_port: int, seconds: float, result_out) -> None:
    async def main() -> tuple[dict, dict]:
        until = time.monotonic() + seconds
        per_conn = NORMAL_RATE / NORMAL_CONNECTIONS

        def fresh() -> dict:
            return {"answered": 0, "turned_away": 0, "failed": 0, "statuses": {}, "latencies": []}

        via, direct = fresh(), fresh()
        await asyncio.gather(
            *(_normal_connection(meter_port, i, until, per_conn, via) for i in range(8)),
            *(_normal_connection(upstream_port, i, until, per_conn, direct) for i in range(2)),
        )
        return via, direct

    result_out.send(asyncio.run(main()))


# ---- misbehaving clients (child process) --------------------------------------------------------


async def _hold(port: int, payload: bytes, hold_s: float, *, small_buffer: bool = False) -> None:
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    if small_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), 5)
        if payload:
            await asyncio.wait_for(loop.sock_sendall(sock, payload), 5)
        await asyncio.sleep(hold_s)
    except (OSError, TimeoutError):
        await asyncio.sleep(0.5)
    finally:
        sock.close()


async def _slowloris(port: int) -> None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    except (OSError, TimeoutError):
        await asyncio.sleep(0.5)
        return
    try:
        for byte in b"GET /api/external/segments HTTP/1.1\r\nHost: bot\r\nX-Slow: " + b"a" * 500:
            if reader.at_eof():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.4)
    except OSError:
        pass
    finally:
        writer.close()


async def _connect_once(port: int, counts: dict) -> None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    except (OSError, TimeoutError):
        return
    try:
        writer.write(b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        if head.startswith(b"HTTP/1.1 405"):
            counts["connect_answered"] += 1
        elif head.startswith(b"HTTP/1.1 503"):
            counts["connect_turned_away"] += 1
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        pass
    finally:
        writer.close()


def _run_misbehaving(port: int, seconds: float, result_out) -> None:
    _raise_nofile()

    async def forever(make) -> None:
        while time.monotonic() < until:
            await make()

    async def main() -> dict:
        counts = {"connect_answered": 0, "connect_turned_away": 0}
        big = b"GET /api/external/big HTTP/1.1\r\nHost: bot\r\n\r\n"
        upload = (
            b"POST /api/external/info HTTP/1.1\r\nHost: bot\r\nContent-Length: %d\r\n\r\n"
            % (31 * 2**20)
        ) + b"u" * (16 * 2**20)
        tasks = (
            [forever(lambda: _hold(port, big, 15, small_buffer=True)) for _ in range(150)]
            + [forever(lambda: _slowloris(port)) for _ in range(100)]
            + [forever(lambda: _hold(port, b"", 20)) for _ in range(1100)]
            + [forever(lambda: _hold(port, upload, 20)) for _ in range(10)]
        )

        async def connects() -> None:
            while time.monotonic() < until:
                asyncio.ensure_future(_connect_once(port, counts))
                await asyncio.sleep(0.1)

        await asyncio.gather(*tasks, connects())
        await asyncio.sleep(1)
        return counts

    until = time.monotonic() + seconds
    result_out.send(asyncio.run(main()))


# ---- the meter and the measurements -------------------------------------------------------------


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))


def _meter_limits() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (METER_NOFILE, METER_NOFILE))


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _ms(values: list[float], q: float) -> float:
    """Nearest-rank percentile, in ms."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return round(ordered[max(0, math.ceil(len(ordered) * q) - 1)] * 1000, 2)


def _child(target, *args) -> tuple[multiprocessing.Process, multiprocessing.connection.Connection]:
    receive, send = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.Process(target=target, args=(*args, send), daemon=True)
    process.start()
    return process, receive


def soak(seconds: float) -> dict:
    home = tempfile.mkdtemp(prefix="ht-dash-soak-")
    upstream, port_in = _child(_run_upstream)
    upstream_port = port_in.recv()
    meter = subprocess.Popen(
        [sys.executable, "-m", "ht_dash", "meter", "--listen", "127.0.0.1:0", "--quiet",
         "--upstream", f"http://127.0.0.1:{upstream_port}", "--timeout", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HT_DASH_HOME": home}, preexec_fn=_meter_limits,
    )  # fmt: skip
    try:
        banner = meter.stdout.readline()
        meter_port = int(banner.split("http://127.0.0.1:", 1)[1].split()[0])
        start_fds = _fds(meter.pid)
        normal, normal_in = _child(_run_normal, meter_port, upstream_port, seconds)
        time.sleep(1.0)  # normal traffic has its keep-alive connections before the crowd comes
        crowd, crowd_in = _child(_run_misbehaving, meter_port, seconds - 1.0)
        peak_fds = start_fds
        deadline = time.monotonic() + seconds + 60
        while not normal_in.poll(0.5) and time.monotonic() < deadline:
            peak_fds = max(peak_fds, _fds(meter.pid))
        via, direct = normal_in.recv()
        counts = crowd_in.recv() if crowd_in.poll(30) else {}
        time.sleep(2.0)
        after_fds = _fds(meter.pid)
        peak_rss = _peak_rss_mb(meter.pid)
        stopping = time.monotonic()
        meter.send_signal(signal.SIGTERM)
        meter.wait(30)
        stop_s = time.monotonic() - stopping
        stderr_lines = meter.stderr.read().splitlines()
    finally:
        if meter.poll() is None:
            meter.kill()
        for process in ("upstream", "normal", "crowd"):
            child = locals().get(process)
            if child is not None and child.is_alive():
                child.terminate()
    with contextlib.closing(sqlite3.connect(Path(home) / "data" / "meter.sqlite3")) as db:
        normal_rows = db.execute(
            "SELECT COUNT(*) FROM requests WHERE path = '/segments/{id}/summary'"
        ).fetchone()[0]
        connect_rows = db.execute(
            "SELECT COUNT(*) FROM requests WHERE method = 'CONNECT'"
        ).fetchone()[0]
        by_failure = dict(
            db.execute("SELECT COALESCE(failure, 'ok'), COUNT(*) FROM requests GROUP BY 1")
        )
    lost = max(0, via["answered"] - normal_rows) + max(
        0, counts.get("connect_answered", 0) - connect_rows
    )
    return {
        "seconds": seconds,
        "normal": {k: v for k, v in via.items() if k != "latencies"},
        "records_lost": lost,
        "records_by_failure": by_failure,
        "connect": counts,
        "fds": {"start": start_fds, "peak": peak_fds, "after": after_fds, "limit": METER_NOFILE},
        "peak_rss_mb": round(peak_rss, 1),
        "latency_ms": {
            (name, q): _ms(side["latencies"], q)
            for name, side in (("via", via), ("direct", direct))
            for q in (0.5, 0.99)
        },
        "stop_s": round(stop_s, 2),
        "stderr_lines": len(stderr_lines),
        "stderr_sample": stderr_lines[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the run (60)")
    args = parser.parse_args()
    result = soak(max(5.0, args.seconds))
    normal = result["normal"]
    print(f"meter soak, {result['seconds']:g} s on loopback")
    print(
        f"  normal traffic      {normal['answered']:,} answered {normal['statuses']}, "
        f"{normal['turned_away']:,} turned away (503, connection cap), {normal['failed']} failed"
    )
    print(f"  records lost        {result['records_lost']}  (by failure: "
          f"{result['records_by_failure']})")  # fmt: skip
    print(f"  CONNECT             {result['connect']}")
    fds = result["fds"]
    print(
        f"  open descriptors    start {fds['start']}, peak {fds['peak']}, "
        f"2 s after the load {fds['after']} (limit {fds['limit']})"
    )
    print(f"  peak RSS            {result['peak_rss_mb']} MB")
    ms = result["latency_ms"]
    for q, name in ((0.99, "p99"), (0.5, "p50")):
        print(
            f"  {name} added latency   {ms['via', q] - ms['direct', q]:.2f} ms  "
            f"(via the meter {ms['via', q]} ms, straight to the upstream {ms['direct', q]} ms)"
        )
    print(f"  SIGTERM to exit     {result['stop_s']} s")
    print(f"  stderr lines        {result['stderr_lines']}  {result['stderr_sample']}")


if __name__ == "__main__":
    main()
