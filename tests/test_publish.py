"""Commit and push with real git: bare repositories as mirrors, loopback sockets as bad ones."""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

from samizdat.config import MirrorConfig
from samizdat.publish import GitError, commit, commit_message, ensure_repo, push_all, redact

TIMEOUT = 2.0


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def bare(path: Path) -> Path:
    subprocess.run(["git", "init", "--quiet", "--bare", str(path)], check=True)
    return path


def remote_head(repo: Path, branch: str = "master") -> str | None:
    proc = subprocess.run(
        ["git", "--git-dir", str(repo), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip() or None


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def save(output: Path, message: str = "m") -> str:
    sha = commit(output, message, author_name="Mirror Bot", author_email="bot@example.org")
    assert sha is not None
    return sha


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No user or system git config: no identity, no signing, no url rewrites leak in.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def output(tmp_path: Path) -> Path:
    out = tmp_path / "mirror"
    ensure_repo(out)
    (out / "README.md").write_text("# 禁闻聚合\n", encoding="utf-8")
    save(out, "first")
    return out


@pytest.fixture
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """Accepts TCP connections and never answers: a hung git daemon."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()
    for conn in accepted:
        conn.close()


# --------------------------------------------------------------------------- commit


def test_commit_with_nothing_changed_makes_no_commit(tmp_path: Path) -> None:
    out = tmp_path / "mirror"
    assert commit(out, "empty", author_name="a", author_email="a@b") is None  # brand-new folder
    (out / "a.md").write_text("a")
    save(out)
    assert commit(out, "again", author_name="a", author_email="a@b") is None
    assert git(out, "rev-list", "--count", "HEAD") == "1"


def test_commit_stages_additions_changes_and_deletions(output: Path) -> None:
    (output / "pages" / "nsc413").mkdir(parents=True)
    (output / "pages" / "nsc413" / "n1.md").write_text("### 标题\n", encoding="utf-8")
    (output / "README.md").write_text("# changed\n")
    sha = save(output, "Sync 2026-05-26 14:30 UTC: 1 new")
    (output / "pages" / "nsc413" / "n1.md").unlink()
    save(output, "purge")

    assert git(output, "rev-parse", "HEAD~1") == sha
    assert git(output, "show", "--name-status", "--format=", sha).splitlines() == [
        "M\tREADME.md",
        "A\tpages/nsc413/n1.md",
    ]
    assert git(output, "show", "--name-status", "--format=", "HEAD") == "D\tpages/nsc413/n1.md"
    assert git(output, "log", "-1", "--format=%s|%an <%ae>|%cn", sha) == (
        "Sync 2026-05-26 14:30 UTC: 1 new|Mirror Bot <bot@example.org>|Mirror Bot"
    )
    assert git(output, "status", "--porcelain") == ""


def test_output_inside_another_repository_gets_its_own(tmp_path: Path) -> None:
    outer = tmp_path / "project"
    ensure_repo(outer)
    out = outer / "mirror"
    (out / "pages").mkdir(parents=True)
    (out / "pages" / "a.md").write_text("a")
    save(out)
    assert (out / ".git").is_dir()
    assert (
        subprocess.run(
            ["git", "-C", str(outer), "rev-parse", "HEAD"], capture_output=True
        ).returncode
        != 0
    )


def test_ensure_repo_sets_a_local_identity_but_keeps_an_existing_one(tmp_path: Path) -> None:
    out = tmp_path / "mirror"
    ensure_repo(out)
    assert git(out, "config", "--local", "user.email") == "samizdat@localhost"
    git(out, "config", "--local", "user.name", "Someone")
    ensure_repo(out)
    assert git(out, "config", "--local", "user.name") == "Someone"


def test_a_stale_index_lock_from_a_killed_cycle_is_cleared(output: Path) -> None:
    lock = output / ".git" / "index.lock"
    lock.write_text("")  # fresh: the killed cycle was moments ago
    (output / "new.md").write_text("new")
    save(output)
    assert not lock.exists()


def test_a_stuck_local_git_command_is_ended_and_reported(
    output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`git add` hanging (here on a clean filter that sleeps, as on a hung disk) is ended with
    what it started, and the cycle gets an error it can report, instead of waiting forever."""
    import samizdat.publish

    monkeypatch.setattr(samizdat.publish, "LOCAL_TIMEOUT", 1.0)
    git(output, "config", "filter.stuck.clean", "sleep 31.5")
    (output / ".gitattributes").write_text("*.md filter=stuck\n")
    (output / "new.md").write_text("new")
    started = time.monotonic()
    with pytest.raises(GitError, match=r"git add did not finish within 1 s"):
        save(output)
    assert time.monotonic() - started < 10
    left = subprocess.run(["pgrep", "-f", "sleep 31.5"], capture_output=True, text=True)
    assert left.stdout == ""  # the filter went with git


def test_commit_message() -> None:
    when = datetime(2026, 5, 26, 22, 30, tzinfo=timezone(timedelta(hours=8)))
    assert (
        commit_message(12, 3, 5, when) == "Sync 2026-05-26 14:30 UTC: 12 new, 3 updated, 5 purged"
    )
    assert commit_message(0, 2, 0, when) == "Sync 2026-05-26 14:30 UTC: 2 updated"
    assert commit_message(0, 0, 0, datetime(2026, 1, 2, 3, 4)) == "Sync 2026-01-02 03:04 UTC"


# --------------------------------------------------------------------------- push


def test_push_to_two_mirrors_then_up_to_date(output: Path, tmp_path: Path) -> None:
    a, b = bare(tmp_path / "a.git"), bare(tmp_path / "b.git")
    mirrors = [MirrorConfig("a", str(a)), MirrorConfig("b", str(b), branch="gh-pages")]
    head = git(output, "rev-parse", "HEAD")

    results = push_all(output, mirrors, timeout=TIMEOUT)
    assert [(r.mirror, r.ok, r.pushed, r.error) for r in results] == [
        ("a", True, True, None),
        ("b", True, True, None),
    ]
    assert remote_head(a) == head and remote_head(b, "gh-pages") == head

    again = push_all(output, mirrors, timeout=TIMEOUT)
    assert [(r.ok, r.pushed, r.error) for r in again] == [(True, False, None)] * 2


def test_unreachable_mirrors_are_reported_and_do_not_stop_the_others(
    output: Path, tmp_path: Path
) -> None:
    good1, good2 = bare(tmp_path / "good1.git"), bare(tmp_path / "good2.git")
    mirrors = [
        MirrorConfig("good1", str(good1)),
        MirrorConfig("missing", str(tmp_path / "does-not-exist.git")),
        MirrorConfig("refused", f"http://127.0.0.1:{closed_port()}/x.git"),
        MirrorConfig("good2", str(good2)),
    ]
    listed = push_all(output, mirrors, timeout=TIMEOUT)
    results = {r.mirror: r for r in listed}

    assert [r.mirror for r in listed] == [m.name for m in mirrors]
    assert results["good1"].ok and results["good2"].ok
    assert remote_head(good1) == remote_head(good2) == git(output, "rev-parse", "HEAD")
    missing, refused = results["missing"], results["refused"]
    assert not missing.ok and not missing.pushed
    assert "does not appear to be a git repository" in missing.error
    assert not refused.ok and "Failed to connect" in refused.error
    assert all("\n" not in r.error for r in (missing, refused))


# Over http git runs git-remote-http as a child: ending only git would leave it connected.
@pytest.mark.parametrize("url", ["git://127.0.0.1:{port}/x", "http://127.0.0.1:{port}/x.git"])
def test_a_hung_mirror_is_ended_after_the_timeout(
    output: Path, tmp_path: Path, silent_server, url: str
) -> None:
    port, accepted = silent_server
    good = bare(tmp_path / "good.git")
    mirrors = [MirrorConfig("hung", url.format(port=port)), MirrorConfig("good", str(good))]

    started = time.monotonic()
    hung, ok = push_all(output, mirrors, timeout=1.5)
    elapsed = time.monotonic() - started

    assert 1.5 <= elapsed < 15  # ended by the time limit, not by the server
    assert not hung.ok and "1.5 s" in hung.error and hung.seconds >= 1.5
    assert ok.ok and ok.seconds < hung.seconds  # pushed in parallel, not after the hung one
    assert remote_head(good) == git(output, "rev-parse", "HEAD")
    # git and its helpers were really ended: the server sees its connection closed.
    assert len(accepted) == 1
    accepted[0].settimeout(2)  # a live git would leave recv waiting: socket.timeout fails the test
    while accepted[0].recv(65536):
        pass  # drain git's request until end of stream


def test_non_fast_forward_is_rejected_not_forced(output: Path, tmp_path: Path) -> None:
    remote = bare(tmp_path / "shared.git")
    mirrors = [MirrorConfig("shared", str(remote))]
    assert push_all(output, mirrors, timeout=TIMEOUT)[0].ok

    # Someone else pushes to the mirror's branch.
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "--quiet", str(remote), str(other)], check=True)
    (other / "theirs.md").write_text("theirs")
    git(other, "add", "theirs.md")
    git(other, "-c", "user.name=x", "-c", "user.email=x@y", "commit", "-q", "-m", "theirs")
    git(other, "push", "-q", "origin", "HEAD:refs/heads/master")
    theirs = git(other, "rev-parse", "HEAD")

    (output / "ours.md").write_text("ours")
    save(output)
    [result] = push_all(output, mirrors, timeout=TIMEOUT)
    assert not result.ok and not result.pushed
    assert "non-fast-forward" in result.error
    assert remote_head(remote) == theirs


def test_a_failed_mirror_catches_up_once_fixed(output: Path, tmp_path: Path) -> None:
    path = tmp_path / "later.git"
    mirrors = [MirrorConfig("later", str(path))]
    assert not push_all(output, mirrors, timeout=TIMEOUT)[0].ok
    (output / "second.md").write_text("2")
    save(output)

    bare(path)
    [result] = push_all(output, mirrors, timeout=TIMEOUT)
    assert result.ok and result.pushed
    assert remote_head(path) == git(output, "rev-parse", "HEAD")
    assert git(output, "rev-list", "--count", "HEAD") == "2"
    assert (
        subprocess.run(
            ["git", "--git-dir", str(path), "rev-list", "--count", "master"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        == "2"
    )


def test_credentials_never_appear_in_errors(output: Path) -> None:
    mirrors = [
        MirrorConfig("basic", "https://user:secret@127.0.0.1:1/x.git"),
        MirrorConfig(
            "token", f"http://ghp_{'A' * 36}@127.0.0.1:{closed_port()}/x.git?access_token=hunter2"
        ),
    ]
    results = push_all(output, mirrors, timeout=TIMEOUT)
    assert all(not r.ok and r.error for r in results)
    text = repr(results)
    for secret in ("secret", "user:", "ghp_", "AAAA", "hunter2"):
        assert secret not in text


def test_no_mirrors_means_nothing_to_do(output: Path) -> None:
    assert push_all(output, [], timeout=TIMEOUT) == []


def test_push_before_any_commit_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "mirror"
    ensure_repo(out)
    remote = bare(tmp_path / "r.git")
    [result] = push_all(out, [MirrorConfig("r", str(remote))], timeout=TIMEOUT)
    assert not result.ok and result.error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fatal: 'https://user:secret@host/x.git' nope", "fatal: 'https://***@host/x.git' nope"),
        ("https://ghp_abcdefghijklmnopqrstuvwxyz0123@github.com/o/r", "https://***@github.com/o/r"),
        (
            "https://oauth2:glpat-abcdefghijklmnopqrst@gitlab.com/o/r.git",
            "https://***@gitlab.com/o/r.git",
        ),
        ("ssh://git@github.com/o/r.git", "ssh://git@github.com/o/r.git"),
        ("ssh://git:pw@host/r", "ssh://git:***@host/r"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("https://h/x.git?private_token=abc&x=1", "https://h/x.git?private_token=***&x=1"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123 leaked", "token *** leaked"),
        ("/srv/git/mirror.git", "/srv/git/mirror.git"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


class _GitOverHTTP(BaseHTTPRequestHandler):
    """git's smart HTTP protocol through `git http-backend`, behind basic authentication;
    while git talks to it, it also looks for the password in every process's command line."""

    root: Path
    expected: str  # the Authorization header that gets in
    password: str
    leaks: list[str]

    def do_GET(self) -> None:
        self._backend()

    def do_POST(self) -> None:
        self._backend()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _backend(self) -> None:
        secrets = {self.password.encode(), quote(self.password, safe="").encode()}
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            with contextlib.suppress(OSError):
                words = cmdline.read_bytes()
                if any(secret in words for secret in secrets):
                    self.leaks.append(words.replace(b"\0", b" ").decode())
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="mirror"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "bot",  # authenticated: http-backend then accepts pushes
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
        head, _, payload = out.stdout.replace(b"\r\n", b"\n").partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode().splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            else:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def test_credentials_in_a_mirror_url_stay_out_of_the_process_list(
    output: Path, tmp_path: Path
) -> None:
    """A push to https://user:token@host/… authenticates with them, but git's command line
    (which every user of the machine can read in `ps`) never holds the token."""
    password = "glpat-s3cret+token/with@odd:chars"
    root = tmp_path / "served"
    bare(root / "news.git")
    handler = type(
        "Handler",
        (_GitOverHTTP,),
        {
            "root": root,
            "expected": "Basic " + base64.b64encode(f"bot:{password}".encode()).decode(),
            "password": password,
            "leaks": [],
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        url = f"http://bot:{quote(password, safe='')}@127.0.0.1:{port}/news.git"
        (result,) = push_all(output, [MirrorConfig("host", url, "master")], timeout=20)
        assert result.ok and result.pushed, result.error
        assert remote_head(root / "news.git") == git(output, "rev-parse", "HEAD")
        assert handler.leaks == []
        # A wrong token is refused, and said so without the token.
        wrong = f"http://bot:wrong-{quote(password, safe='')}@127.0.0.1:{port}/news.git"
        (refused,) = push_all(output, [MirrorConfig("host", wrong, "master")], timeout=20)
        assert not refused.ok and "wrong-" not in (refused.error or "")
    finally:
        server.shutdown()
        server.server_close()
