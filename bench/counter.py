"""Benchmark the view counter against nginx serving `empty_gif`, on loopback, with wrk.

    python bench/counter.py                      # 20 s each at 50 connections, 1M junk paths
    python bench/counter.py --duration 5 --junk 100000 --workers 2

Needs `nginx` and `wrk` (Debian: `apt-get install -y nginx-light wrk`). Prints, for nginx and
for `samizdat counter`: requests/s and p99 latency; for the counter also the views it counted
against the requests wrk completed (the counter may count up to one request per connection more:
those wrk cut off when its time ran out), and its resident memory while `--junk` distinct
unknown paths are requested (it must stay flat: unknown paths are never kept).
Every request of the main run is for a known page, spread over `--pages` pages.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from samizdat.models import Article
from samizdat.store import Store

ROOT = Path(__file__).resolve().parent.parent

# Each wrk thread walks the list of page paths from its own offset. done() prints one line
# that this script reads: requests, p99 latency (µs), socket errors, non-2xx answers.
KNOWN_SCRIPT = """
local paths = {%(paths)s}
local counter = 0
function setup(thread) thread:set("start", math.random(#paths)) end
function init(args) counter = tonumber(start) or 0 end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d\\n", summary.requests,
    latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
"""
# Distinct junk paths: /p/junk/<run>-<thread>-<n>, never repeated.
JUNK_SCRIPT = """
local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
local n = 0
local run = "0"
function init(args) run = args[1] or "0" end
function request()
  n = n + 1
  return wrk.format("GET", "/p/junk/" .. run .. "-" .. id .. "-" .. n)
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d 0 0\\n", summary.requests, latency:percentile(99)))
end
"""

NGINX_CONF = """
worker_processes %(workers)s;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %(dir)s/body;
  proxy_temp_path %(dir)s/proxy;
  fastcgi_temp_path %(dir)s/fastcgi;
  uwsgi_temp_path %(dir)s/uwsgi;
  scgi_temp_path %(dir)s/scgi;
  server {
    listen 127.0.0.1:%(port)d;
    location / { empty_gif; add_header Cache-Control "no-store, no-cache"; }
  }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def wrk(
    url: str, script: Path | None, args: argparse.Namespace, duration: float, *extra: str
) -> dict:
    """One wrk run; with no script, every request is for `url` (wrk's fastest mode)."""
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{math.ceil(duration)}s"]
    command += ["--timeout", "5s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if extra:
        command += ["--", *extra]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    found = re.search(r"RESULT (.*)", out)
    if found:
        requests, p99_us, errors, status = (int(x) for x in found.group(1).split())
        p99 = p99_us / 1000
    else:
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        p99 = _ms(re.search(r"^\s+99%\s+([\d.]+[a-z]+)", out, re.MULTILINE).group(1))
        sockets = re.search(
            r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
        )
        errors = sum(int(x) for x in sockets.groups()) if sockets else 0
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        status = int(non2xx.group(1)) if non2xx else 0
    return {"rps": rps, "requests": requests, "p99_ms": p99, "errors": errors + status}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (uvicorn workers), in KiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        status = Path(f"/proc/{p}/status").read_text()
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return total


def make_mirror(directory: Path, pages: int) -> list[str]:
    store = Store(directory / "samizdat.db")
    paths = []
    now = datetime.now(UTC)
    with store.atomic():
        for i in range(pages):
            article = Article(
                channel=f"ch{i % 10}",
                slug=f"n{i}",
                url=f"https://news.example/n{i}.htm",
                title=f"第{i}篇",
                html="<p>x</p>",
                text="x",
                published=now,
            )
            store.save(article, source="s", fingerprint="f", method="generic")
            paths.append(article.path)
    store.close()
    (directory / "samizdat.toml").write_text(
        '[site]\ntitle = "bench"\noutput = "mirror"\nbase_url = "https://example.org/r"\n'
        'counter_url = "https://c.example.org/p"\n'
        '[[sources]]\nid = "s"\n'
        + "".join(
            f'[[sources.channels]]\nid = "ch{i}"\nfeed = "https://news.example/{i}.xml"\n'
            for i in range(10)
        )
    )
    return paths


LOADS = ("one page", "1000 pages")


def loads(base: str, page: str, script: Path, args: argparse.Namespace) -> dict[str, dict]:
    """The same two loads for nginx and the counter: every request for one page (plain wrk),
    and requests spread over all pages (a Lua script, which costs wrk some speed)."""
    return {
        "one page": wrk(f"{base}/p/{page}", None, args, args.duration),
        "1000 pages": wrk(base, script, args, args.duration),
    }


def bench_nginx(args: argparse.Namespace, work: Path, page: str, script: Path) -> dict | None:
    if shutil.which("nginx") is None:
        print("nginx: not installed (apt-get install -y nginx-light), skipped")
        return None
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF % {"workers": args.nginx_workers, "dir": work, "port": port})
    process = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(work), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/")
        return loads(f"http://127.0.0.1:{port}", page, script, args)
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful stop
        process.wait(timeout=10)


def bench_counter(
    args: argparse.Namespace, work: Path, page: str, script: Path, junk: Path
) -> tuple[dict[str, dict], dict]:
    port = free_port()
    log = (work / "counter.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "samizdat.counter",
            "-c",
            str(work / "samizdat.toml"),
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    extra: dict = {}
    try:
        wait_for(f"{base}/healthz")
        runs = loads(base, page, script, args)
        if args.junk:
            rate = max(runs["1000 pages"]["rps"], 1000)
            extra["rss_kib"] = rss_series = [rss_kib(process.pid)]
            sent, run = 0, 0
            while sent < args.junk:
                run += 1
                seconds = min(30.0, max(2.0, (args.junk - sent) / rate + 1))
                sent += wrk(base, junk, args, seconds, str(run))["requests"]
                rss_series.append(rss_kib(process.pid))
            extra["junk_sent"] = sent
    finally:
        process.send_signal(signal.SIGTERM)  # graceful: the lifespan shutdown writes the tally
        process.wait(timeout=60)
        log.close()
    db = sqlite3.connect(work / "counter.db")
    extra["views"] = db.execute("SELECT COALESCE(SUM(views), 0) FROM views").fetchone()[0]
    extra["rows"] = db.execute("SELECT COUNT(*) FROM views").fetchone()[0]
    db.close()
    return runs, extra


def _line(name: str, run: dict, nginx: dict | None) -> str:
    ratio = f" ({run['rps'] / nginx['rps']:.2f}× nginx)" if nginx else ""
    return (
        f"  {name:<11} {run['rps']:>9,.0f} req/s{ratio}, p99 {run['p99_ms']:.2f} ms, "
        f"errors {run['errors']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per load run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--pages", type=int, default=1000, help="known pages in the mirror")
    parser.add_argument("--junk", type=int, default=1_000_000, help="distinct unknown paths")
    parser.add_argument("--workers", type=int, default=1, help="counter worker processes")
    parser.add_argument("--nginx-workers", default="auto")
    parser.add_argument("--no-nginx", action="store_true")
    args = parser.parse_args()
    # Stopped with SIGTERM, still run the `finally` blocks that stop nginx and the counter.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")

    with tempfile.TemporaryDirectory(prefix="counter-bench-") as tmp:
        work = Path(tmp)
        paths = make_mirror(work, args.pages)
        script = work / "known.lua"
        script.write_text(KNOWN_SCRIPT % {"paths": ",".join(f'"/p/{p}"' for p in paths)})
        junk = work / "junk.lua"
        junk.write_text(JUNK_SCRIPT)

        print(
            f"loopback, {os.cpu_count()} CPUs, wrk -t{args.threads} -c{args.connections}"
            f" -d{args.duration:g}s, {args.pages} pages"
        )
        nginx = None if args.no_nginx else bench_nginx(args, work, paths[0], script)
        if nginx:
            print(f"nginx empty_gif (worker_processes {args.nginx_workers}):")
            for name in LOADS:
                print(_line(name, nginx[name], None))
        runs, extra = bench_counter(args, work, paths[0], script, junk)
        print(f"samizdat counter ({args.workers} worker(s), uvloop + httptools when installed):")
        for name in LOADS:
            print(_line(name, runs[name], nginx[name] if nginx else None))
        requests = sum(r["requests"] for r in runs.values())
        errors = sum(r["errors"] for r in runs.values())
        over = extra["views"] - requests
        print(
            f"  views counted {extra['views']:,} for {requests:,} requests completed by wrk "
            f"({over:+,}: requests wrk cut off at its end, at most {2 * args.connections}); "
            f"{extra['rows']} rows in the database"
        )
        if "junk_sent" in extra:
            series = extra["rss_kib"]
            print(
                f"  {extra['junk_sent']:,} distinct unknown paths: resident memory "
                f"{series[0] / 1024:.1f} MiB before, {max(series) / 1024:.1f} MiB peak, "
                f"{series[-1] / 1024:.1f} MiB after (samples: "
                + ", ".join(f"{s / 1024:.1f}" for s in series)
                + ")"
            )
        if not (0 <= over <= 2 * args.connections) or errors:
            print("FAIL: views counted do not match the requests sent")
            raise SystemExit(1)


if __name__ == "__main__":
    main()
