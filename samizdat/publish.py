"""Publish the output folder: one git commit per cycle, then a push to every mirror.

Everything goes through the `git` command line (2.39+), because that is what users debug with
and what honours their SSH keys, credential helpers and `core.sshCommand`. Pushes run in
parallel threads, one process group each, so one hung or refused mirror never holds up the
others (SPEC §5), and every message that leaves this module passes through `redact` first:
remote URLs often carry tokens.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

from samizdat.errors import SamizdatError

if TYPE_CHECKING:
    from samizdat.config import MirrorConfig

DEFAULT_NAME = "samizdat"
DEFAULT_EMAIL = "samizdat@localhost"
# A lock git leaves behind when it is killed mid-command; older than this it cannot be live,
# because the cycle lock keeps every other samizdat out of this folder.


@dataclass(frozen=True)
class PushResult:
    mirror: str
    ok: bool
    pushed: bool  # False when the remote already had this commit
    error: str | None  # one line: why, with credentials redacted
    seconds: float


class GitError(SamizdatError):
    """A local git command (init, add, commit) failed; the message is redacted."""


# --------------------------------------------------------------------------- redaction

# scheme://userinfo@host: http(s) userinfo is often a token (https://<token>@github.com,
# https://oauth2:<token>@gitlab…), so all of it goes; for ssh:// only a password part does.
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s'\"]+)@")
_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:access_token|private_token|token|password|passwd|key|secret|auth)=)[^&#\s'\"]+"
)
# Well-known token shapes, wherever they appear (a header echoed back, a config dump).
_TOKENS = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,})"
)


def redact(text: str) -> str:
    """Remove credentials from every URL (and every known token shape) in `text`."""

    def userinfo(match: re.Match[str]) -> str:
        scheme, info = match.group("scheme"), match.group("userinfo")
        if scheme.lower().startswith("ssh") and ":" not in info:
            return match.group(0)  # ssh://git@host: a login name, not a secret
        if scheme.lower().startswith("ssh"):
            return f"{scheme}{info.split(':', 1)[0]}:***@"
        return f"{scheme}***@"

    text = _URL_USERINFO.sub(userinfo, text)
    text = _QUERY_SECRET.sub(r"\1***", text)
    return _TOKENS.sub("***", text)


# --------------------------------------------------------------------------- commit


def commit_message(new: int, updated: int, purged: int, when: datetime) -> str:
    """'Sync 2026-05-26 14:30 UTC: 12 new, 3 updated, 5 purged' (zero counts left out).

    A naive `when` is taken to be UTC already.
    """
    stamp = (when.astimezone(UTC) if when.tzinfo else when).strftime("%Y-%m-%d %H:%M UTC")
    counts = [
        f"{n} {what}" for n, what in ((new, "new"), (updated, "updated"), (purged, "purged")) if n
    ]
    return f"Sync {stamp}: {', '.join(counts)}" if counts else f"Sync {stamp}"


def ensure_repo(output: Path) -> None:
    """Make `output` a git repository of its own (not a folder inside some other repo)."""
    output.mkdir(parents=True, exist_ok=True)
    if (output / ".git").exists():
        return  # once per repository: a cycle spends no git processes on it
    _git(output, "-c", "init.defaultBranch=master", "init", "--quiet")
    # A local identity so that git run by hand in the output never stops with "Please tell me
    # who you are" on a server with no global config; commit() names the author explicitly.
    for key, value in (("user.name", DEFAULT_NAME), ("user.email", DEFAULT_EMAIL)):
        _git(output, "config", "--local", key, value)


def commit(output: Path, message: str, *, author_name: str, author_email: str) -> str | None:
    """Stage everything under `output` and commit once; return the commit id, or None when
    nothing changed (then no commit is made)."""
    ensure_repo(output)
    _clear_stale_index_lock(output)
    # Every file counts as "big" for this one command, so git streams the new blobs into one
    # pack (bulk check-in) instead of one loose object file each: a cycle of 1,000 articles
    # adds ~5,000 files, and creating that many small files cost 3-4 s of kernel time here
    # (0.9 s this way). Pushes and gc run without the setting and delta-compress as usual.
    _git(output, "-c", "core.bigFileThreshold=1", "add", "--all")
    if _git(output, "diff", "--cached", "--quiet", check=False).returncode == 0:
        return None
    identity = _identity(author_name, author_email)
    _git(output, "commit", "--quiet", "--no-verify", "--file", "-", stdin=message, env=identity)
    return _git(output, "rev-parse", "HEAD").stdout.strip()


def _identity(name: str, email: str) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def head(output: Path) -> str | None:
    """The output's current commit, or None before the first one."""
    if not (output / ".git").exists():
        return None
    return (
        _git(output, "rev-parse", "--verify", "--quiet", "HEAD", check=False).stdout.strip() or None
    )


def _clear_stale_index_lock(output: Path) -> None:
    # A cycle killed during `git add` or `git commit` leaves .git/index.lock, and every later
    # git command would refuse to run (SPEC §5: the next cycle completes the work). commit()
    # runs under the cycle lock, so no other samizdat is inside git here: a lock file present
    # now was left by a killed cycle (the README asks people not to run git by hand in the
    # output while a cycle runs).
    (output / ".git" / "index.lock").unlink(missing_ok=True)


# A local git command (add, commit, gc …) that has not finished after this long is stuck (a
# hung disk, a lock on a network file system): it is ended and the cycle reports the error,
# instead of hanging until cron's next run finds the cycle lock taken, and every one after.
# Generous: a gc of a large repository on a slow disk takes minutes.
LOCAL_TIMEOUT = 1800.0


def _git(
    output: Path,
    *args: str,
    check: bool = True,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    command = ["git", "-C", str(output), *args]
    with subprocess.Popen(
        command,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=_environment(env or {}),
        start_new_session=True,  # its own group: a timeout ends git and what it started (gc)
    ) as running:
        try:
            stdout, stderr = running.communicate(stdin, timeout=LOCAL_TIMEOUT)
        except subprocess.TimeoutExpired:
            _kill_group(running)
            raise GitError(
                f"git {_subcommand(args)} did not finish within {LOCAL_TIMEOUT:g} s in {output};"
                " ended it"
            ) from None
    proc = subprocess.CompletedProcess(command, running.returncode, stdout, stderr)
    if check and proc.returncode != 0:
        raise GitError(f"git {_subcommand(args)} failed in {output}: {_one_line(proc.stderr)}")
    return proc


def _subcommand(args: Sequence[str]) -> str:
    """`add` of `-c core.x=1 add --all`: what an error message should name."""
    rest = list(args)
    while len(rest) > 1 and rest[0] == "-c":
        rest = rest[2:]
    return rest[0] if rest else "?"


def _environment(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GIT_TERMINAL_PROMPT="0",  # never wait for a password nobody will type (cron)
        LC_ALL="C",  # messages we quote and parse stay the same everywhere
    )
    env.update(extra)
    return env


# --------------------------------------------------------------------------- push


def push_all(
    output: Path,
    mirrors: Sequence[MirrorConfig],
    *,
    timeout: float,
    leases: Mapping[str, str] | None = None,
) -> list[PushResult]:
    """Push HEAD to `refs/heads/<branch>` of every mirror in parallel; one result per mirror,
    in the order given. Never forces blindly: a non-fast-forward is reported as that mirror's
    error, except for a mirror in `leases` (name → the commit samizdat last pushed there), which
    is replaced only if it still holds exactly that commit (after `squash` rewrote history)."""
    if not mirrors:
        return []
    env = _environment(_ssh_settings(output, timeout))
    leases = leases or {}
    with ThreadPoolExecutor(max_workers=len(mirrors), thread_name_prefix="push") as pool:
        futures = [
            pool.submit(_push_one, output, m, timeout, env, leases.get(m.name)) for m in mirrors
        ]
        return [f.result() for f in futures]


def is_ancestor(output: Path, commit: str, of: str = "HEAD") -> bool:
    """True when `commit` is in the history of `of` (False when it is unknown, e.g. squashed away)."""
    return _git(output, "merge-base", "--is-ancestor", commit, of, check=False).returncode == 0


def commit_count(output: Path) -> int:
    proc = _git(output, "rev-list", "--count", "HEAD", check=False)
    return int(proc.stdout.strip() or 0) if proc.returncode == 0 else 0


def squash(output: Path, message: str, *, author_name: str, author_email: str) -> str:
    """Replace the history with one root commit holding the current tree; return its id.

    The output's .git then holds only what the tree needs (old objects are pruned), and mirrors
    receive the new root with a lease on what they held, so clones stay bounded."""
    tree = _git(output, "rev-parse", "HEAD^{tree}").stdout.strip()
    root = _git(
        output,
        "commit-tree",
        tree,
        "-F",
        "-",
        stdin=message,
        env=_identity(author_name, author_email),
    )
    new = root.stdout.strip()
    _git(output, "reset", "--soft", new)
    _git(output, "reflog", "expire", "--expire=now", "--all")
    _git(output, "gc", "--prune=now", "--quiet")
    return new


def _ssh_settings(output: Path, timeout: float) -> dict[str, str]:
    # BatchMode makes ssh fail instead of asking for a passphrase or a host-key answer. A user's
    # own GIT_SSH(_COMMAND) or core.sshCommand (a deploy key, a port) wins: we add nothing then.
    if os.environ.get("GIT_SSH_COMMAND") or os.environ.get("GIT_SSH"):
        return {}
    if _git(output, "config", "--get", "core.sshCommand", check=False).stdout.strip():
        return {}
    connect = max(1, min(30, int(timeout)))
    return {"GIT_SSH_COMMAND": f"ssh -o BatchMode=yes -o ConnectTimeout={connect}"}


def _push_one(
    output: Path, mirror: MirrorConfig, timeout: float, env: dict[str, str], lease: str | None
) -> PushResult:
    started = time.monotonic()

    def result(ok: bool, pushed: bool, error: str | None) -> PushResult:
        return PushResult(mirror.name, ok, pushed, error, round(time.monotonic() - started, 3))

    ref = f"refs/heads/{mirror.branch}"
    remote, credentials = _split_credentials(mirror.remote)
    argv = ["git", "-C", str(output)]
    if credentials:
        argv += ["-c", "credential.helper=", "-c", f"credential.helper={_HELPER}"]
        env = env | credentials
    argv += ["push", "--porcelain", remote, f"HEAD:{ref}"]
    if lease:
        argv.insert(argv.index("push") + 1, f"--force-with-lease={ref}:{lease}")
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",  # a stray byte in a message must not lose the result
            env=env,
            # Its own process group, so that a timeout ends git *and* its ssh/remote helper.
            start_new_session=True,
        )
    except OSError as e:
        return result(False, False, redact(f"cannot run git: {e}"))
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return result(False, False, f"no answer within {timeout:g} s; push ended")

    status = _ref_status(stdout, ref)
    if status is not None and status[0] == "=":
        return result(True, False, None)
    if proc.returncode == 0:
        return result(True, True, None)
    if status is not None and status[0] == "!":
        return result(False, False, _rejection(mirror.branch, status[1]))
    return result(False, False, _one_line(stderr) or f"git push exited with {proc.returncode}")


# Credentials written into a mirror's URL (https://user:token@host/…) would show in the
# process list (`ps`) for as long as git runs, to every user of the machine. So the URL git
# gets has none, and this helper, the only credential helper git asks for this push, hands
# them over from the environment of the git process, which only its user (and root) can read.
_HELPER = (
    '!f() { test "$1" = get && printf "username=%s\\npassword=%s\\n"'
    ' "$SAMIZDAT_GIT_USERNAME" "$SAMIZDAT_GIT_PASSWORD"; }; f'
)


def _split_credentials(remote: str) -> tuple[str, dict[str, str]]:
    """An http(s) URL without its user:password, and them as the environment `_HELPER`
    reads; any other remote as it is, with none."""
    parts = urlsplit(remote)
    if parts.scheme.lower() not in ("http", "https") or "@" not in parts.netloc:
        return remote, {}
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    credentials = {
        "SAMIZDAT_GIT_USERNAME": unquote(user),
        "SAMIZDAT_GIT_PASSWORD": unquote(password),
    }
    return urlunsplit(parts._replace(netloc=host)), credentials


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have finished on its own
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        # A descendant that left the group still holds the pipes; stop reading them.
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
        proc.wait()


def _ref_status(porcelain: str, ref: str) -> tuple[str, str] | None:
    """(flag, summary) of `ref` in `git push --porcelain` output: '=' up to date, ' ' fast
    forward, '*' new, '!' rejected."""
    for line in porcelain.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and len(parts[0]) == 1 and parts[1].endswith(":" + ref):
            return parts[0], parts[2]
    return None


def _rejection(branch: str, summary: str) -> str:
    if "non-fast-forward" in summary or "fetch first" in summary:
        return (
            f"rejected as non-fast-forward: the mirror's {branch} has commits this output lacks "
            "(someone else pushed there); samizdat does not force"
        )
    return redact(f"rejected by the mirror: {summary}")


def _one_line(stderr: str) -> str:
    """The line of git's stderr that says why: the first fatal/error line, else the last line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("hint:")]
    if not lines:
        return ""
    why = next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1])
    return redact(why.removeprefix("fatal:").removeprefix("error:").strip())
