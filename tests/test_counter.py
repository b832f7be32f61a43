"""The view counter: the service under uvicorn on loopback, the hot list, log ingestion.

The service runs as a real subprocess (`python -m samizdat.counter`), stopped with SIGTERM like
a service manager would, or SIGKILL for a crash. Clients connect from 127.0.0.23 so that any
trace of the client address in the database or the logs is unambiguous.
"""

from __future__ import annotations

import gzip
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt
from pytest_httpserver import HTTPServer

from samizdat.config import SiteConfig, load
from samizdat.counter.command import counter as counter_command
from samizdat.counter.hot import HotEntry, HotListError, hot_entries, render_hot
from samizdat.models import Article
from samizdat.store import Store

DATA = Path(__file__).parent / "data" / "counter"
CLIENT_ADDRESS = "127.0.0.23"
AGENT = "CanaryBrowser/9.9 (reader-fingerprint-7f3e)"
FORWARDED = "198.51.100.99"
HOUR_10 = int(datetime(2026, 11, 27, 10, tzinfo=UTC).timestamp()) // 3600


def _article(channel: str, slug: str, title: str, hours_ago: int = 0) -> Article:
    return Article(
        channel=channel,
        slug=slug,
        url=f"https://news.example/{channel}/{slug}.htm",
        title=title,
        html="<p>x</p>",
        text="x",
        published=datetime.now(UTC) - timedelta(hours=hours_ago),
    )


def _config(
    directory: Path, *, counter_url: str = "https://c.example.org/p", extra: str = ""
) -> Path:
    path = directory / "samizdat.toml"
    path.write_text(
        f"""
[site]
title = "测试"
output = "mirror"
base_url = "https://example.org/repo"
counter_url = "{counter_url}"

[[sources]]
id = "s"
  [[sources.channels]]
  id = "c1"
  feed = "https://news.example/c1.xml"
  [[sources.channels]]
  id = "old"
  feed = "https://news.example/old.xml"
{extra}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    """A state DB with live pages c1/a0..a2 and one purged page old/o0; returns the config."""
    with Store(tmp_path / "samizdat.db") as store:
        for i, title in enumerate(["第一篇 *要闻*", "第二篇", "第三篇"]):
            store.save(_article("c1", f"a{i}", title), source="s", fingerprint="f", method="feed")
        store.save(
            _article("old", "o0", "旧", hours_ago=5), source="s", fingerprint="f", method="feed"
        )
        store.save(_article("old", "o1", "新"), source="s", fingerprint="f", method="feed")
        assert store.purge("old", keep=1) == ["o0"]
    return _config(tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=30)

    def output(self) -> bytes:
        return self.log.read_bytes()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    services: list[Service] = []

    def run(config: Path, *options: str) -> Service:
        port = _free_port()
        log = tmp_path / f"service-{port}.log"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "samizdat.counter",
                "-c",
                str(config),
                "--port",
                str(port),
                *options,
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        service = Service(process, f"http://127.0.0.1:{port}", log)
        services.append(service)
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(service.base + "/healthz", timeout=1).status_code == 200:
                    return service
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"service did not start:\n{log.read_text()}")
            time.sleep(0.05)

    yield run
    for service in services:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait()


HEADERS = {"user-agent": AGENT, "x-forwarded-for": FORWARDED, "x-real-ip": FORWARDED}


def _burst(base: str, paths: list[str], connections: int = 50) -> list[httpx.Response]:
    """All `paths` requested concurrently over `connections` keep-alive connections, each from
    its own thread (httpx's async pool is slow with this many waiters)."""
    local = threading.local()

    def get(path: str) -> httpx.Response:
        if not hasattr(local, "client"):
            transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
            local.client = httpx.Client(transport=transport, headers=HEADERS, timeout=10)
            clients.append(local.client)
        return local.client.get(base + path)

    clients: list[httpx.Client] = []
    try:
        with ThreadPoolExecutor(connections) as pool:
            return list(pool.map(get, paths))
    finally:
        for client in clients:
            client.close()


def _views(database: Path) -> dict[str, int]:
    db = sqlite3.connect(database)
    try:
        return dict(db.execute("SELECT path, SUM(views) FROM views GROUP BY path"))
    finally:
        db.close()


def _database_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.glob("counter.db*"))


# --------------------------------------------------------------------------- the service


def test_burst_is_counted_exactly_and_nothing_identifies_readers(mirror: Path, start) -> None:
    service = start(mirror, "--flush-every", "0.5")
    paths = (
        ["/p/pages/c1/a0.md"] * 600
        + ["/p/pages/c1/a1.md?from=share"] * 300
        + [f"/p/junk/{i}" for i in range(150)]  # unknown: answered, not counted
        + ["/p/pages/old/o0.md"] * 20  # purged: no longer a page of the mirror
        + ["/pages/c1/a0.md"] * 10  # without the prefix
    )
    responses = _burst(service.base, paths)
    for r in responses:
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/gif"
        assert r.content.startswith(b"GIF89a") and len(r.content) == 43
        assert "no-store" in r.headers["cache-control"] and "no-cache" in r.headers["cache-control"]
        assert "set-cookie" not in r.headers
    head = httpx.head(service.base + "/p/pages/c1/a2.md")  # answered, not counted
    assert head.status_code == 200 and head.content == b""
    assert httpx.post(service.base + "/p/pages/c1/a2.md").status_code == 405

    assert service.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    output = service.output()
    assert b"stopped: 900 views counted" in output
    database = mirror.parent / "counter.db"
    assert _views(database) == {"pages/c1/a0.md": 600, "pages/c1/a1.md": 300}

    stored = _database_bytes(mirror.parent)
    for secret in (CLIENT_ADDRESS, "127.0.0.1", AGENT, "reader-fingerprint", FORWARDED, "junk"):
        assert secret.encode() not in stored, secret
    for secret in (CLIENT_ADDRESS, AGENT, "reader-fingerprint", FORWARDED, "junk"):
        assert secret.encode() not in output, secret


def test_a_crash_loses_at_most_one_batch(mirror: Path, start) -> None:
    service = start(mirror, "--flush-every", "0.5")
    _burst(service.base, ["/p/pages/c1/a2.md"] * 120)
    time.sleep(1.6)  # more than a flush interval and the 1 s tick
    service.stop(signal.SIGKILL)
    assert _views(mirror.parent / "counter.db") == {"pages/c1/a2.md": 120}


def test_pages_added_to_the_mirror_are_counted_after_a_refresh(mirror: Path, start) -> None:
    service = start(mirror, "--refresh-every", "1")
    _burst(service.base, ["/p/pages/c1/new.md"] * 5)  # not a page yet
    with Store(mirror.parent / "samizdat.db") as store:
        store.save(_article("c1", "new", "新文章"), source="s", fingerprint="f", method="feed")
    time.sleep(2.2)
    _burst(service.base, ["/p/pages/c1/new.md"] * 7)
    service.stop()
    assert _views(mirror.parent / "counter.db") == {"pages/c1/new.md": 7}


def test_prefix_comes_from_counter_url(tmp_path: Path, mirror: Path, start) -> None:
    _config(tmp_path, counter_url="https://views.example.org/")
    service = start(mirror)
    _burst(service.base, ["/pages/c1/a0.md", "/p/pages/c1/a0.md"])
    service.stop()
    assert _views(tmp_path / "counter.db") == {"pages/c1/a0.md": 1}


def test_hot_json_metrics_and_the_hot_list_over_http(mirror: Path, start) -> None:
    service = start(mirror)
    _burst(
        service.base,
        ["/p/pages/c1/a0.md"] * 3 + ["/p/pages/c1/a1.md"] * 5 + ["/p/nope"] * 4,
    )

    hot = httpx.get(service.base + "/hot.json", params={"hours": 24, "limit": 50})
    assert hot.status_code == 200
    assert hot.json() == [
        {"path": "pages/c1/a1.md", "title": "第二篇", "views": 5},
        {"path": "pages/c1/a0.md", "title": "第一篇 *要闻*", "views": 3},
    ]
    assert len(httpx.get(service.base + "/hot.json?limit=1").json()) == 1
    assert httpx.get(service.base + "/hot.json?hours=0").status_code == 400
    assert httpx.get(service.base + "/hot.json?limit=x").status_code == 400

    metrics = httpx.get(service.base + "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    values = _parse_prometheus(metrics.text)
    assert values["samizdat_counter_requests_total"] == 12
    assert values["samizdat_counter_views_total"] == 8
    assert values["samizdat_counter_unknown_total"] == 4
    assert values["samizdat_counter_flushes_total"] >= 1  # /hot.json flushed first
    assert values["samizdat_counter_known_pages"] == 4
    assert httpx.get(service.base + "/healthz").json()["status"] == "ok"

    # The cycle's view of the same list, from a machine without the counter's database.
    elsewhere = mirror.parent / "elsewhere"
    elsewhere.mkdir()
    remote = load(
        _config(elsewhere, extra=f'[counter]\nhot_url = "{service.base}/hot.json"\nlimit = 1\n')
    )
    assert hot_entries(remote) == [HotEntry("pages/c1/a1.md", "第二篇", 5)]
    service.stop()


def _parse_prometheus(text: str) -> dict[str, float]:
    """Check the text exposition format line by line and return the samples."""
    assert text.endswith("\n")
    samples: dict[str, float] = {}
    typed: dict[str, str] = {}
    helped: set[str] = set()
    for line in text.splitlines():
        if m := re.fullmatch(r"# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*", line):
            helped.add(m.group(1))
        elif m := re.fullmatch(r"# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)", line):
            typed[m.group(1)] = m.group(2)
        else:
            m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*) (\d+(?:\.\d+)?)", line)
            assert m, f"not a sample line: {line!r}"
            name = m.group(1)
            assert name in typed and name in helped, f"{name} has no TYPE/HELP before it"
            assert typed[name] != "counter" or name.endswith("_total")
            samples[name] = float(m.group(2))
    return samples


def test_several_workers_add_up(mirror: Path, start) -> None:
    service = start(mirror, "--workers", "2", "--flush-every", "0.5")
    _burst(service.base, ["/p/pages/c1/a0.md"] * 400 + ["/p/pages/c1/a2.md"] * 100)
    assert service.stop() == 0
    assert _views(mirror.parent / "counter.db") == {"pages/c1/a0.md": 400, "pages/c1/a2.md": 100}


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's new parent may be slow to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_workers_of_a_killed_parent_write_their_counts_and_exit(mirror: Path, start) -> None:
    service = start(mirror, "--workers", "2", "--flush-every", "3600")
    _burst(service.base, ["/p/pages/c1/a1.md"] * 50)
    workers = [
        int(p)
        for p in subprocess.run(
            ["pgrep", "-P", str(service.process.pid)], capture_output=True, text=True
        ).stdout.split()
    ]
    assert workers
    service.stop(signal.SIGKILL)  # the parent can pass nothing on
    deadline = time.monotonic() + 30
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [w for w in workers if _running(w)]
    # They stopped as on SIGTERM: the counts of the hour (never flushed before) are written.
    assert _views(mirror.parent / "counter.db") == {"pages/c1/a1.md": 50}


# --------------------------------------------------------------------------- hot list


def test_hot_entries_from_the_local_database(mirror: Path) -> None:
    db = sqlite3.connect(mirror.parent / "counter.db")
    hour = int(time.time()) // 3600
    db.executescript(
        "CREATE TABLE views (path TEXT, hour INTEGER, views INTEGER, PRIMARY KEY (path, hour));"
    )
    db.executemany(
        "INSERT INTO views VALUES (?, ?, ?)",
        [
            ("pages/c1/a0.md", hour, 2),
            ("pages/c1/a0.md", hour - 5, 2),
            ("pages/c1/a1.md", hour, 3),
            ("pages/c1/a2.md", hour - 30, 99),  # older than 24 hours
            ("pages/old/o0.md", hour, 50),  # purged since
        ],
    )
    db.commit()
    db.close()
    assert hot_entries(load(mirror)) == [
        HotEntry("pages/c1/a0.md", "第一篇 *要闻*", 4),
        HotEntry("pages/c1/a1.md", "第二篇", 3),
    ]


def test_hot_entries_say_why_when_there_is_no_counter(mirror: Path) -> None:
    with pytest.raises(HotListError, match=r"no counter database at .*no \[counter\] hot_url"):
        hot_entries(load(mirror))
    port = _free_port()  # nothing listens there
    remote = load(_config(mirror.parent, extra=f'[counter]\nhot_url = "http://127.0.0.1:{port}"\n'))
    with pytest.raises(HotListError, match=re.escape(f"127.0.0.1:{port}/hot.json")):
        hot_entries(remote)


def test_hot_entries_over_http_keep_only_page_paths(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hot.json", query_string="hours=24&limit=50").respond_with_json(
        [
            {"path": "pages/c1/a0.md", "title": "好", "views": 7},
            {"path": "https://evil.example/x", "title": "坏", "views": 99},
            {"path": "pages/../../etc/passwd", "title": "坏", "views": 98},
            {"path": "pages/c1/a1.md", "title": "坏", "views": "many"},
            {"path": "pages/c1/a2.md", "title": None, "views": 5},
            "junk",
        ]
    )
    config = load(_config(tmp_path, extra=f'[counter]\nhot_url = "{httpserver.url_for("/")}"\n'))
    assert hot_entries(config) == [HotEntry("pages/c1/a0.md", "好", 7)]


def test_render_hot_escapes_titles() -> None:
    site = SiteConfig(title="t", output=Path("o"), state=Path("s"), base_url="https://e.org")
    hostile = "*x* [y](javascript:alert(1)) <img src=x onerror=alert(1)> # 1. `c`"
    text = render_hot(
        [HotEntry("pages/c1/a0.md", hostile, 12), HotEntry("pages/c1/a1.md", "第二篇", 3)], site
    )
    lines = text.splitlines()
    assert lines[0] == "### 热门文章"
    assert lines[2] == "#### [首页](README.md)"
    assert lines[-1] == "#### [第二篇](pages/c1/a1.md) (3)"
    html = MarkdownIt("commonmark").render(text)
    assert re.findall(r'href="([^"]*)"', html) == ["README.md", "pages/c1/a0.md", "pages/c1/a1.md"]
    assert "<img" not in html and "<em>" not in html and "<code>" not in html
    assert "(12)" in html
    assert "暂无数据" in render_hot([], site)


# --------------------------------------------------------------------------- ingest


def _ingest(config: Path, *files: Path) -> str:
    result = CliRunner().invoke(counter_command, ["ingest", "-c", str(config), *map(str, files)])
    assert result.exit_code == 0, result.output
    return result.output


EXPECTED = {
    ("pages/c1/a0.md", HOUR_10): 2,  # 200 and 304
    ("pages/c1/a1.md", HOUR_10): 2,  # with a query; 11:00 +0100 is 10:00 UTC
    ("pages/c1/a2.md", HOUR_10 + 1): 2,  # percent-encoded; common format
    ("pages/c1/a0.md", HOUR_10 + 1): 1,  # escaped quote in the agent
}


def _rows(database: Path) -> dict[tuple[str, int], int]:
    db = sqlite3.connect(database)
    try:
        return {(p, h): n for p, h, n in db.execute("SELECT path, hour, views FROM views")}
    finally:
        db.close()


def test_ingest_counts_page_views_once(mirror: Path, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    shutil.copy(DATA / "access.log", log)
    output = _ingest(mirror, log)
    assert "7 views counted" in output and "1 unreadable" in output
    database = tmp_path / "counter.db"
    assert _rows(database) == EXPECTED

    # Again, and as a rotated, compressed copy: nothing more.
    rotated = tmp_path / "access.log.2.gz"
    rotated.write_bytes(gzip.compress(log.read_bytes()))
    assert "0 views counted, 28 lines counted before" in _ingest(mirror, log, rotated)
    assert _rows(database) == EXPECTED

    # The log grew, with a line still being written: only the complete new line counts.
    with log.open("ab") as f:
        f.write(
            b'203.0.113.20 - - [27/Nov/2026:10:30:00 +0000] "GET /p/pages/c1/a0.md HTTP/1.1" 200 43 "-" "x"\n'
        )
        f.write(b'203.0.113.21 - - [27/Nov/2026:10:31:00 +0000] "GET /p/pages/c1/a0.md HTT')
    assert "1 views counted" in _ingest(mirror, log)
    assert _rows(database)[("pages/c1/a0.md", HOUR_10)] == 3
    with log.open("ab") as f:
        f.write(b'P/1.1" 200 43 "-" "x"\n')
    assert "1 views counted" in _ingest(mirror, log)
    assert _rows(database)[("pages/c1/a0.md", HOUR_10)] == 4

    # Another log (gzip) is another log.
    assert "3 views counted" in _ingest(mirror, DATA / "access-cdn.log.gz")
    assert _rows(database)[("pages/c1/a1.md", HOUR_10 + 2)] == 3
    assert "0 views counted" in _ingest(mirror, DATA / "access-cdn.log.gz")

    stored = _database_bytes(tmp_path)
    for secret in (b"203.0.113", b"198.51.100", b"192.0.2.", b"canary-agent", b"frank", b"junk"):
        assert secret not in stored, secret


def test_ingest_and_the_service_add_to_one_database(mirror: Path, tmp_path: Path, start) -> None:
    # -c given to the group works as well as to the subcommand.
    result = CliRunner().invoke(
        counter_command, ["-c", str(mirror), "ingest", str(DATA / "access.log")]
    )
    assert result.exit_code == 0, result.output
    service = start(mirror)
    _burst(service.base, ["/p/pages/c1/a0.md"] * 5)
    service.stop()
    rows = _rows(tmp_path / "counter.db")
    assert rows[("pages/c1/a0.md", HOUR_10)] == 2
    assert sum(rows.values()) == 7 + 5


def test_config_given_before_the_counter_command_is_used(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from samizdat.cli import main

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no samizdat.toml here: only -c can name the config
    # `samizdat -c CONFIG counter ingest`
    result = CliRunner().invoke(
        main, ["-c", str(mirror), "counter", "ingest", str(DATA / "access.log")]
    )
    assert result.exit_code == 0, result.output
    assert "7 views counted" in result.output


def test_ingest_reports_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[site]\ntitle = 1\n")
    log = tmp_path / "x.log"
    log.write_text("")
    result = CliRunner().invoke(
        counter_command, ["ingest", "-c", str(tmp_path / "bad.toml"), str(log)]
    )
    assert result.exit_code == 2
    assert "bad.toml" in result.output


def test_ingest_reads_the_address_free_nginx_format_of_the_docs(
    mirror: Path, tmp_path: Path
) -> None:
    # docs/counter.md: log_format pixel '- - - [$time_local] "$request" $status $body_bytes_sent';
    log = tmp_path / "pixel.log"
    log.write_text(
        '- - - [27/Nov/2026:10:00:01 +0000] "GET /p/pages/c1/a1.md HTTP/1.1" 200 43\n'
        '- - - [27/Nov/2026:10:00:01 +0000] "GET /p/pages/c1/a1.md HTTP/1.1" 200 43\n'
    )
    assert "2 views counted" in _ingest(mirror, log)
    assert _rows(tmp_path / "counter.db") == {("pages/c1/a1.md", HOUR_10): 2}
