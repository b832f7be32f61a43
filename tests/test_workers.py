"""Extraction workers: a crashing worker costs one page, not the cycle."""

from __future__ import annotations

import asyncio
import os
import signal

from samizdat.models import Rules
from samizdat.workers import ExtractionPool

PAGE = "<html><head><title>T</title></head><body><article><p>{}</p></article></body></html>"


def test_pool_extracts_and_survives_a_killed_worker() -> None:
    async def main() -> None:
        with ExtractionPool(workers=1) as pool:
            text = "A paragraph of real article text that is long enough to be kept. " * 5
            first = await pool.run(PAGE.format(text), "https://a.example/1.htm", Rules(), None, "")
            assert "real article text" in first.text
            # Kill the worker behind the pool's back, as the OOM killer or a segfault would.
            executor = pool._executor
            assert executor is not None
            for pid in list(executor._processes):  # type: ignore[attr-defined]
                os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.2)
            again = await pool.run(PAGE.format(text), "https://a.example/2.htm", Rules(), None, "")
            assert "real article text" in again.text
            assert pool._executor is not executor  # replaced

    asyncio.run(main())
