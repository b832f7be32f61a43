"""How well the fetcher keeps its per-host limit busy.

N requests to one loopback host whose every answer takes DELAY seconds, with PER_HOST requests
allowed at once, ideally take N * DELAY / PER_HOST seconds. Prints the measured time and the ratio
measured / ideal (1.00 is perfect; overhead shows as the excess).

    python bench/fetch.py [--requests 1000] [--delay 0.1] [--per-host 4]
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from samizdat.fetch import Fetcher, FetchSettings


def serve(delay: float) -> tuple[ThreadingHTTPServer, threading.Thread]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
        # Headers and body go out in two writes: without this, delayed ACKs add ~40 ms to
        # every keep-alive response and the bench would measure the server, not the fetcher.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            time.sleep(delay)
            body = b"<html><body><p>ok</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


async def run(base: str, requests: int, per_host: int) -> float:
    settings = FetchSettings(per_host=per_host, retries=0)
    async with Fetcher(settings) as fetcher:
        started = time.perf_counter()
        await asyncio.gather(*(fetcher.get(f"{base}/page/{i}") for i in range(requests)))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--per-host", type=int, default=4)
    args = parser.parse_args()

    server, thread = serve(args.delay)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        elapsed = asyncio.run(run(base, args.requests, args.per_host))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    ideal = args.requests * args.delay / args.per_host
    print(
        f"{args.requests} requests, {args.delay * 1000:.0f} ms each, {args.per_host} per host: "
        f"{elapsed:.2f}s (ideal {ideal:.2f}s), ratio {elapsed / ideal:.3f}"
    )


if __name__ == "__main__":
    main()
