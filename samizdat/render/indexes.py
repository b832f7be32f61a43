"""Channel indexes and the home page (SPEC §3).

`indexes/<channel>.md` holds the newest `index_size` articles, one `#### [title](path)` line
each; the rest go to `indexes/<channel>-earlier.md`, linked at the end. `README.md` is the
site title and one line per source linking its channels' indexes. Titles are source text and
are escaped inside the link text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from samizdat.render.markdown import escape_inline, link, url
from samizdat.render.page import menu_line

if TYPE_CHECKING:
    from samizdat.config import ChannelConfig, Config, SiteConfig, SourceConfig
    from samizdat.models import Article

EARLIER_TEXT = "更早的文章"
LATEST_TEXT = "最新文章"
HOT_TEXT = "热门文章"
MIRRORS_TEXT = "本站镜像（一个地址被封时，请换用另一个）："
INDEX_ROOT = "../"  # from indexes/ back to the output root


def index_path(channel_id: str) -> str:
    return f"indexes/{channel_id}.md"


def earlier_path(channel_id: str) -> str:
    return f"indexes/{channel_id}-earlier.md"


def _article_line(article: Article) -> str:
    title = escape_inline(article.title) or escape_inline(article.slug)
    return f"#### [{title}]({url(INDEX_ROOT + article.path)})"


def _index(heading: str, menu: str, articles: list[Article], footer: str | None) -> str:
    blocks = [f"### {heading}", menu, "---", "\n".join(_article_line(a) for a in articles)]
    if footer:
        blocks += ["---", footer]
    return "\n\n".join(b for b in blocks if b) + "\n"


def render_index(
    channel: ChannelConfig,
    source: SourceConfig,
    articles: list[Article],
    *,
    index_size: int,
    site: SiteConfig,
) -> dict[str, str]:
    """{relative path: Markdown} of a channel's index, and of its earlier page when the channel
    holds more than `index_size` articles. `articles` come newest first."""
    heading = f"{escape_inline(source.title)}：{escape_inline(channel.title)}"
    menu = menu_line(site.menu, INDEX_ROOT)
    first, rest = articles[:index_size], articles[index_size:]
    main_name, earlier_name = f"{channel.id}.md", f"{channel.id}-earlier.md"
    files = {
        index_path(channel.id): _index(
            heading, menu, first, f"#### [{EARLIER_TEXT}]({url(earlier_name)})" if rest else None
        )
    }
    if rest:
        files[earlier_path(channel.id)] = _index(
            f"{heading}（{EARLIER_TEXT}）", menu, rest, f"#### [{LATEST_TEXT}]({url(main_name)})"
        )
    return files


def render_home(config: Config, counts: dict[str, int], *, has_hot: bool = False) -> str:
    """README.md: the site title, the menu, one line per source linking each of its channels'
    indexes with their article counts, and the hot list when `hot.md` exists."""
    blocks = [f"### {escape_inline(config.site.title)}", menu_line(config.site.menu, ""), "---"]
    for source in config.sources:
        channels = " | ".join(
            f"{link(channel.title, index_path(channel.id))}（{counts.get(channel.id, 0)}）"
            for channel in source.channels
        )
        blocks.append(f"#### {escape_inline(source.title)}：{channels}")
    if has_hot:
        blocks.append(f"#### {link(HOT_TEXT, 'hot.md')}")
    addresses = mirror_addresses(config)
    if len(addresses) > 1:
        blocks += ["---", MIRRORS_TEXT, "\n".join(f"- <{a}>" for a in addresses)]
    return "\n\n".join(blocks) + "\n"


def mirror_addresses(config: Config) -> list[str]:
    """Every public address of the home page: the site's, then each mirror's own, once each."""
    bases = [config.site.base_url] + [m.base_url for m in config.mirrors if m.base_url]
    return list(dict.fromkeys(f"{base}/README.md" for base in bases))
