#!/usr/bin/env python3
"""A TCP relay that adds a fixed latency, for benchmarks/bench_network.py (stdlib only).

Used where the kernel has no `sch_netem` (`tc qdisc add … netem` → "Specified qdisc kind is
unknown"). Every chunk read from one side is written to the other side DELAY_MS later, in
order, in both directions, so a request/response exchange costs 2 × DELAY_MS more: a round
trip of RTT needs `--delay-ms RTT/2`. It emulates latency, not bandwidth or loss.

    delay_relay.py relay --listen HOST:PORT --connect HOST:PORT --delay-ms MS
        prints "listening HOST:PORT" once bound (PORT 0 = any free port), relays until SIGTERM
    delay_relay.py echo --listen HOST:PORT      a TCP echo server (prints "listening HOST:PORT")
    delay_relay.py probe --connect HOST:PORT [--count N]
        times N one-byte echo round trips; prints "rtt_ms median=… min=… max=…"
    delay_relay.py selftest [--delay-ms MS]     relay + echo in one process: order and delay kept
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import statistics
import sys
import time

CHUNK = 65536


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float,
                stats: dict | None = None, direction: str = "up") -> None:
    """Copy reader to writer, each chunk delivered `delay` seconds after it was read, in order.

    ``stats`` counts bytes per direction and "turns": how often the client spoke after the
    server had (or first), i.e. the request/response round trips the protocol waited for.
    """
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def read_side() -> None:
        try:
            while True:
                data = await reader.read(CHUNK)
                if stats is not None and data:
                    stats[direction] += len(data)
                    if stats["last"] != direction and direction == "up":
                        stats["turns"] += 1
                    stats["last"] = direction
                queue.put_nowait((time.monotonic() + delay, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            queue.put_nowait((time.monotonic() + delay, b""))

    async def write_side() -> None:
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return

    await asyncio.gather(read_side(), write_side())


async def _relay_connection(client_reader, client_writer, upstream: tuple[str, int], delay: float) -> None:
    try:
        up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*upstream), 30)
    except (OSError, asyncio.TimeoutError):
        client_writer.close()
        return
    for w in (client_writer, up_writer):
        sock = w.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stats = {"up": 0, "down": 0, "turns": 0, "last": None}
    try:
        await asyncio.gather(_pump(client_reader, up_writer, delay, stats, "up"),
                             _pump(up_reader, client_writer, delay, stats, "down"))
    finally:
        for w in (client_writer, up_writer):
            w.close()
        print(f"closed up={stats['up']} down={stats['down']} turns={stats['turns']}", flush=True)


async def _echo_connection(reader, writer) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _serve(listen: tuple[str, int], handler) -> None:
    server = await asyncio.start_server(handler, *listen)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening {host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def probe(address: tuple[str, int], count: int) -> list[float]:
    """Round-trip times (ms) of `count` one-byte echo exchanges on one connection."""
    times = []
    with socket.create_connection(address, timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(b"x")
            if sock.recv(1) != b"x":
                raise RuntimeError("echo answered something else (or closed)")
            times.append((time.perf_counter() - started) * 1000)
    return times


async def _selftest(delay_ms: float) -> str:
    """Echo through a relay in this process: bytes arrive complete and in order, RTT >= 2 x delay."""
    echo = await asyncio.start_server(_echo_connection, "127.0.0.1", 0)
    upstream = echo.sockets[0].getsockname()[:2]

    async def handler(r, w):
        await _relay_connection(r, w, upstream, delay_ms / 1000)

    relay = await asyncio.start_server(handler, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(*relay.sockets[0].getsockname()[:2])
    sent = b"".join(bytes([i % 251]) * (1 + i * 37 % 5000) for i in range(300))
    rtts, first = [], b""
    for _ in range(5):
        started = time.monotonic()
        writer.write(b"p")
        await writer.drain()
        first += await asyncio.wait_for(reader.readexactly(1), 30)
        rtts.append((time.monotonic() - started) * 1000)
    rtt_ms = min(rtts)
    for i in range(0, len(sent), 3000):  # many chunks, so order matters
        writer.write(sent[i:i + 3000])
        await writer.drain()
    got = await asyncio.wait_for(reader.readexactly(len(sent)), 60)
    writer.write_eof()  # the EOF travels through the relay and the echo server and back
    rest = await asyncio.wait_for(reader.read(), 30 + 2 * delay_ms / 1000)
    writer.close()
    for server in (relay, echo):
        server.close()
        await server.wait_closed()
    if rest:
        raise SystemExit(f"selftest FAILED: {len(rest)} bytes more than were sent")
    if first != b"ppppp" or got != sent:
        raise SystemExit("selftest FAILED: the relay changed or reordered the bytes")
    if rtt_ms < 2 * delay_ms:
        raise SystemExit(f"selftest FAILED: RTT {rtt_ms:.1f} ms < 2 x {delay_ms:g} ms")
    return (f"selftest ok: {len(sent)} bytes in order, RTT min {rtt_ms:.1f} ms median "
            f"{statistics.median(rtts):.1f} ms with {delay_ms:g} ms each way")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    relay = sub.add_parser("relay")
    relay.add_argument("--listen", required=True)
    relay.add_argument("--connect", required=True)
    relay.add_argument("--delay-ms", type=float, required=True, help="added per direction (RTT/2)")
    echo = sub.add_parser("echo")
    echo.add_argument("--listen", required=True)
    prober = sub.add_parser("probe")
    prober.add_argument("--connect", required=True)
    prober.add_argument("--count", type=int, default=10)
    selftest = sub.add_parser("selftest")
    selftest.add_argument("--delay-ms", type=float, default=25)
    args = parser.parse_args(argv)
    if args.mode == "relay":
        upstream, delay = _split(args.connect), args.delay_ms / 1000

        async def handler(r, w):
            await _relay_connection(r, w, upstream, delay)

        asyncio.run(_serve(_split(args.listen), handler))
    elif args.mode == "echo":
        asyncio.run(_serve(_split(args.listen), _echo_connection))
    elif args.mode == "selftest":
        print(asyncio.run(_selftest(args.delay_ms)))
    else:
        times = probe(_split(args.connect), args.count)
        print(f"rtt_ms median={statistics.median(times):.1f} min={min(times):.1f} max={max(times):.1f} n={len(times)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
