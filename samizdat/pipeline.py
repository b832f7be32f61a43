"""One cycle, top to bottom: discover → fetch → extract → clean → store → render → publish.

Two phases, as in Pelican: first every article of the cycle is collected into the store (each
one in its own transaction, so a killed cycle loses nothing it finished); then every output is
rendered from the store (`build`, which is also a command of its own), committed and pushed.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from samizdat import build, publish
from samizdat.clean import convert_text
from samizdat.config import ChannelConfig, Config, SourceConfig
from samizdat.errors import FetchError, SkipItem, SourceError
from samizdat.fetch import Fetcher
from samizdat.ids import page_id
from samizdat.images import ImageMirror, MirroredImages
from samizdat.lock import CycleLock
from samizdat.models import Article, Extracted, Item
from samizdat.progress import Reporter
from samizdat.render.pool import pool_context, workers_for
from samizdat.sources import parse_feed, parse_list
from samizdat.store import Known, Store, now
from samizdat.workers import ExtractionPool

if TYPE_CHECKING:
    from samizdat.counter.hot import HotEntry
    from samizdat.render.tree import EarlyPages


@dataclass
class CycleReport:
    """What one cycle did; its problems decide the exit status (3 when there are any)."""

    new: int = 0
    updated: int = 0
    excluded: int = 0
    purged: int = 0
    problems: list[str] = field(default_factory=list)
    commit: str | None = None
    pushes: list[publish.PushResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 3 if self.problems else 0

    def as_dict(self) -> dict[str, object]:
        return {
            "new": self.new,
            "updated": self.updated,
            "excluded": self.excluded,
            "purged": self.purged,
            "problems": self.problems,
            "commit": self.commit,
        }


# An item that failed this many cycles in a row is no longer fetched (a page deleted at the
# source would otherwise fail, and make the exit status 3, for ever); `status` still lists it.
GIVE_UP_AFTER = 10


def lock_path(config: Config) -> Path:
    return config.site.state.with_name(config.site.state.name + ".lock")


def run(config: Config, reporter: Reporter, stop: threading.Event | None = None) -> CycleReport:
    """One full cycle under the config's lock (LockHeld when another cycle runs).

    When `stop` is set (SIGTERM under `watch`), no new item is started; what was collected is
    rendered and committed, and pushing waits for the next cycle, so the cycle ends promptly
    and cleanly."""
    stop = stop or threading.Event()
    with CycleLock(lock_path(config)):
        store = Store(config.site.state)
        try:
            cycle = store.begin_cycle()
            report = CycleReport()
            early = asyncio.run(collect(config, store, report, reporter, stop))
            for _, channel in config.channels():
                report.purged += len(store.purge(channel.id, config.site.keep))
            reporter.stage("Rendering")
            build.build(config, store, hot=hot_list(config, report, reporter), early=early)
            publish_output(config, store, report, reporter, push=not stop.is_set())
            store.end_cycle(cycle, report.as_dict())
            return report
        finally:
            store.close()


def hot_list(config: Config, report: CycleReport, reporter: Reporter) -> list[HotEntry] | None:
    """The counter's most-read pages, when a counter is configured or runs on this machine."""
    from samizdat.counter.counts import database_path

    counter = config.counter
    if not (counter.hot_url or counter.database or database_path(config).exists()):
        return None  # no counter: no hot list, and nothing to report
    from samizdat.counter.hot import HotListError, hot_entries  # (only with a counter)

    try:
        return hot_entries(config)
    except HotListError as e:
        report.problems.append(f"hot list: {e}")
        reporter.warn(f"hot list: {e}")
        return None


def publish_output(
    config: Config, store: Store, report: CycleReport, reporter: Reporter, *, push: bool = True
) -> None:
    """Commit the output (when it changed) and push to every mirror that lacks the commit."""
    reporter.stage("Publishing")
    output, settings = config.site.output, config.publish
    message = publish.commit_message(report.new, report.updated, report.purged, now())
    identity = {"author_name": settings.author_name, "author_email": settings.author_email}
    report.commit = publish.commit(output, message, **identity)
    if (
        report.commit
        and settings.squash_after
        and publish.commit_count(output) > settings.squash_after
    ):
        report.commit = publish.squash(output, f"{message} (history squashed)", **identity)
        reporter.info(f"history squashed to one commit ({settings.squash_after} reached)")
    head = publish.head(output)
    if head is None or not push:
        return
    states = store.pushes()
    # A mirror that already has HEAD is not contacted: a no-op cycle pushes nothing, and a mirror
    # that failed last time is retried until it catches up.
    due = [
        m
        for m in config.mirrors
        if states.get(m.name) is None or states[m.name].last_commit != head
    ]
    # After a squash, what a mirror holds is no ancestor of HEAD: replace it, but only if it
    # still holds what samizdat pushed there (a lease), never someone else's commits.
    leases = {
        m.name: last
        for m in due
        if (last := states[m.name].last_commit if m.name in states else None)
        and not publish.is_ancestor(output, last)
    }
    for result in publish.push_all(output, due, timeout=settings.push_timeout, leases=leases):
        report.pushes.append(result)
        store.record_push(
            result.mirror, ok=result.ok, commit=head if result.ok else None, error=result.error
        )
        if result.ok:
            reporter.info(
                f"pushed to {result.mirror}" if result.pushed else f"{result.mirror} is up to date"
            )
        else:
            report.problems.append(f"mirror {result.mirror}: {result.error}")
            reporter.warn(f"mirror {result.mirror}: {result.error}")


# --------------------------------------------------------------------------- collect phase


async def collect(
    config: Config, store: Store, report: CycleReport, reporter: Reporter, stop: threading.Event
) -> EarlyPages | None:
    """Store every new or changed article; return the pages already written meanwhile."""
    reporter.stage("Reading sources")
    with ExtractionPool() as pool:
        async with Fetcher(config.fetch) as fetcher:
            images = ImageMirror(config.site.output, fetcher, config.images)
            work = _Work(config, store, report, reporter, fetcher, pool, images, stop)
            try:
                await asyncio.gather(*(work.channel(s, c) for s, c in config.channels()))
            finally:
                if work.writer is not None:
                    await asyncio.get_running_loop().run_in_executor(None, work.writer.shutdown)
    return work.early


@dataclass
class _Work:
    config: Config
    store: Store
    report: CycleReport
    reporter: Reporter
    fetcher: Fetcher
    pool: ExtractionPool
    images: ImageMirror
    stop: threading.Event
    todo: int = 0  # items to fetch in this cycle so far
    render_warm: bool = False
    early: EarlyPages | None = None  # pages written as articles are stored (see write_early)
    writer: ThreadPoolExecutor | None = None

    def write_early(self, article: Article) -> None:
        """Have the article's page and QR code written now, in a thread, while the cycle goes
        on fetching; the final render then skips them (when still right)."""
        if self.writer is None:
            if self.store.get_meta("render.epoch") not in (None, build.epoch(self.config)):
                return  # the final render will be a full one anyway
            from samizdat.render.tree import EarlyPages

            self.early = EarlyPages(self.config, self.store)
            self.writer = ThreadPoolExecutor(1, thread_name_prefix="early-pages")
        assert self.early is not None
        self.writer.submit(self.early.write, article)

    async def channel(self, source: SourceConfig, channel: ChannelConfig) -> None:
        try:
            listed = await self.discover(source, channel)
        except (FetchError, SourceError) as e:
            self.problem(
                f"{channel.id}: {channel.url}: {e.reason if isinstance(e, FetchError) else e}"
            )
            return
        if listed is None:  # not modified since the last complete read
            return
        items, validators = listed
        known = self.store.known(channel.id)
        given_up = self.store.given_up(channel.id, GIVE_UP_AFTER)
        todo = [i for i in self.select(source, items, known) if i.url not in given_up]
        self.reporter.add_total(len(todo))
        self.todo += len(todo)
        if workers_for(self.todo) > 1 and not self.render_warm:
            # A render big enough for worker processes follows: start their server now, while
            # pages are fetched, not after.
            self.render_warm = True
            await asyncio.to_thread(pool_context)
        # Ids are given in listing order before any fetch, so a collision always resolves the
        # same way: the later URL gets the hashed id.
        taken = {k.slug for k in known.values()}
        slugs = {}
        for item in todo:
            seen = known.get(item.url)
            slugs[item.url] = seen.slug if seen else page_id(item.url, taken)
            taken.add(slugs[item.url])
        results = await asyncio.gather(
            *(self.item(source, item, slugs[item.url], known.get(item.url)) for item in todo)
        )
        # Validators are kept only when the listing is settled: every item handled and none marked
        # for refresh. Otherwise the listing is read again in full next cycle, which is how a
        # failed item gets its retry and a running story (更新) is fetched each cycle.
        refreshing = any(m in item.title for item in items for m in source.refresh_titles)
        if all(results) and not refreshing:
            self.store.set_validators(channel.url, *validators)
        else:
            self.store.clear_validators(channel.url)

    async def discover(
        self, source: SourceConfig, channel: ChannelConfig
    ) -> tuple[list[Item], tuple[str | None, str | None]] | None:
        etag, modified = self.store.validators(channel.url)
        response = await self.fetcher.get(channel.url, etag=etag, last_modified=modified)
        if response.not_modified:
            return None
        if channel.feed:
            # feedparser is slow on big feeds: off the event loop, so fetches go on meanwhile.
            items = await asyncio.to_thread(
                parse_feed, response.content, response.url, source=source.id, channel=channel.id
            )
        else:
            assert channel.items is not None  # config guarantees it for list channels
            items = parse_list(
                response.text(), response.url, channel.items, source=source.id, channel=channel.id
            )
        return items, (response.etag, response.last_modified)

    def select(
        self, source: SourceConfig, items: list[Item], known: dict[str, Known]
    ) -> list[Item]:
        """The items to fetch: new ones, changed ones and those marked for refresh."""
        todo = []
        for item in items:
            if any(marker in item.title for marker in source.exclude_titles):
                self.report.excluded += 1
                continue
            seen = known.get(item.url)
            if seen is None:
                todo.append(item)
            elif seen.purged:
                continue
            elif seen.fingerprint != item.fingerprint or any(
                m in item.title for m in source.refresh_titles
            ):
                todo.append(item)
        return todo

    async def item(self, source: SourceConfig, item: Item, slug: str, seen: Known | None) -> bool:
        """Fetch, extract, clean and store one item; on failure record it and return False."""
        if self.stop.is_set():
            return False  # stopping: not a failure, the item waits for the next cycle
        try:
            response = await self.fetcher.get(item.url)
            extracted: Extracted = await self.pool.run(
                response.text(),
                response.url,
                source.rules,
                item.content_html,
                self.config.site.convert,
            )
            if not extracted.text.strip():
                raise SkipItem("no article text found on the page")
            # Images load while other pages are still being fetched and extracted.
            images = await self.images.mirror(
                extracted.html, extracted.image or item.image, page_url=response.url
            )
            return self.save(source, item, extracted, images, slug, seen)
        except FetchError as e:
            reason = e.reason
        except SkipItem as e:
            reason = str(e)
        except Exception as e:  # one bad item never stops the cycle: report it and go on
            reason = f"{type(e).__name__}: {e}"
        finally:
            self.reporter.advance()
        attempts = self.store.fail(item.channel, item.url, item.title, reason)
        self.problem(f"{item.channel}: {item.url}: {reason} (attempt {attempts})")
        return False

    def save(
        self,
        source: SourceConfig,
        item: Item,
        extracted: Extracted,
        images: MirroredImages,
        slug: str,
        existing: Known | None,
    ) -> bool:
        """Store the article; False when an image failed (the item is then fetched again next
        cycle, its images retried, and the failure counted towards giving up)."""
        # A feed's title is the editor's; a list page's link text may be shortened, so the
        # page's own title wins there.
        title = item.title if item.from_feed else (extracted.title or item.title)
        title = convert_text(title, self.config.site.convert)
        article = Article(
            channel=item.channel,
            slug=slug,
            url=item.url,
            title=title,
            html=images.html,
            text=extracted.text,
            published=item.published or now(),  # SPEC §3: the feed's date, else first seen
            image=images.lead,
            caption=extracted.caption,
            author=extracted.author,
            position=item.position,
        )
        problem = "; ".join(images.problems)
        if existing:
            old = self.store.article(item.channel, slug)
            if old and (old.title, old.html, old.image, old.caption) == (
                article.title,
                article.html,
                article.image,
                article.caption,
            ):
                self.store.touch(item.channel, item.url, item.fingerprint)
                return True
            if problem:
                # Never replace a page whose images loaded by one that lost some to a blip.
                self.image_problem(item, problem)
                return False
        with self.store.atomic():
            # A stored article with a failed image keeps an empty fingerprint: the next cycle
            # sees its listing as changed and fetches it again.
            is_new = self.store.save(
                article,
                source=source.id,
                fingerprint="" if problem else item.fingerprint,
                method=extracted.method,
                clear_failure=not problem,
            )
            if problem:
                self.image_problem(item, problem)
        self.write_early(article)
        if is_new:
            self.report.new += 1
        else:
            self.report.updated += 1
        return not problem

    def image_problem(self, item: Item, problem: str) -> None:
        attempts = self.store.fail(item.channel, item.url, item.title, f"images: {problem}")
        self.problem(f"{item.channel}: {item.url}: images left out: {problem} (attempt {attempts})")

    def problem(self, message: str) -> None:
        self.report.problems.append(message)
        self.reporter.warn(message)
