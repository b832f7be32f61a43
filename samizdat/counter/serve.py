"""Run the counter service under uvicorn: one process, or several sharing one port.

uvicorn is told not to identify anyone: no access log, no proxy headers (X-Forwarded-For is
never read), no server header. uvloop and httptools are used when installed (uvicorn's
"auto"); they roughly double what one worker answers.

Several workers (`workers > 1`): N processes, each with its own socket bound with
SO_REUSEPORT to the same address, so the kernel spreads connections between them. Each keeps
its own tally and flushes to the same SQLite file (busy_timeout, additive upserts), so their
counts add up. `/metrics` then describes the worker that answered.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
from types import FrameType

import uvicorn

from samizdat.counter.app import Settings, create_app
from samizdat.workers import when_orphaned

log = logging.getLogger("samizdat.counter")


def uvicorn_config(settings: Settings, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        lifespan="on",
        access_log=False,  # the access log would hold every reader's address
        proxy_headers=False,
        server_header=False,
        log_config=None,  # keep the caller's logging; uvicorn logs no client data without it
        timeout_graceful_shutdown=30,
    )


def serve(settings: Settings, host: str, port: int, *, workers: int = 1) -> None:
    """Serve until SIGTERM/SIGINT; every counted view is written before this returns."""
    if workers <= 1:
        uvicorn.Server(uvicorn_config(settings, host, port)).run()
        return
    # Bind once here to fail early (and clearly) when the address is taken.
    _reuse_port_socket(host, port).close()
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(settings, host, port), name=f"counter-{i}")
        for i in range(workers)
    ]
    for process in processes:
        process.start()

    forwarded = False

    def forward(signum: int, frame: FrameType | None) -> None:
        # Once: a second SIGTERM/SIGINT would make uvicorn skip the final write.
        nonlocal forwarded
        if forwarded:
            return
        forwarded = True
        for process in processes:
            if process.pid is not None and process.is_alive():
                process.terminate()  # SIGTERM: each worker flushes and exits

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    log.info("%d workers on %s:%d (SO_REUSEPORT)", workers, host, port)
    for process in processes:
        process.join()


def _worker(settings: Settings, host: str, port: int) -> None:
    # Its own process group: a terminal's Ctrl-C reaches the parent alone, which passes on
    # exactly one SIGTERM (two signals would make uvicorn skip the lifespan shutdown).
    os.setpgrp()
    # A parent killed outright can't pass SIGTERM on: then send it ourselves, so the counts
    # are written and the port is free again.
    when_orphaned(lambda: os.kill(os.getpid(), signal.SIGTERM))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sock = _reuse_port_socket(host, port)
    try:
        uvicorn.Server(uvicorn_config(settings, host, port)).run(sockets=[sock])
    finally:
        sock.close()
    sys.exit(0)


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
