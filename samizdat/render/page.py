"""One article page, `pages/<channel>/<id>.md` (SPEC §3).

The blocks keep the order of the page the original pipeline published
(`shared/reference/seed-page.md`): title, menu, lead image and caption, rule, body, share block
(address and QR code), original address, menu, counter pixel. What it did with string pastes is
done here with escaping: the title, caption, body text and original address are source text.
"""

from __future__ import annotations

import html
from functools import cache
from typing import TYPE_CHECKING

from samizdat.render.markdown import (
    body_to_markdown,
    emphasis,
    escape_inline,
    image,
    image_src,
    is_relative,
    url,
)

if TYPE_CHECKING:
    from samizdat.config import MenuLink, SiteConfig
    from samizdat.models import Article

SHARE_TEXT = "手机上长按并复制下列链接或二维码分享本文章："
ORIGINAL_TEXT = "原文地址（需翻墙访问）："
QR_ALT = "本文二维码"
HOME_TITLE = "首页"
PAGE_ROOT = "../../"  # from pages/<channel>/ back to the output root


@cache  # the same few menus on every page of a build
def menu_line(menu: tuple[MenuLink, ...], root: str) -> str:
    """`#### [首页](../../README.md) | …`: relative menu URLs are relative to the output root
    and get `root` in front; absolute ones are kept. An empty menu still links home."""
    links = [(m.title, m.url) for m in menu] or [(HOME_TITLE, "README.md")]
    parts = []
    for title, address in links:
        target = root + address.strip().lstrip("/") if is_relative(address) else address
        parts.append(f"[{escape_inline(title)}]({url(target)})")
    return "#### " + " | ".join(parts)


def counter_pixel(counter_url: str, path: str) -> str:
    """The view counter's 1×1 image, whose address names the page."""
    src = url(f"{counter_url.rstrip('/')}/{path}")
    return f'<img src="{html.escape(src, quote=True)}" width="1" height="1" alt="">'


def render_page(
    article: Article, site: SiteConfig, *, public_url: str, body_html: str | None = None
) -> str:
    """The Markdown of one article page; `public_url` is the page's public address, `body_html`
    the body to render in place of `article.html` (as relinked for this page)."""
    image_root = site.image_base_url + "/" if site.image_base_url else PAGE_ROOT
    menu = menu_line(site.menu, PAGE_ROOT)
    title = escape_inline(article.title) or escape_inline(article.slug)
    blocks = [f"### {title}", "---", menu]

    src = image_src(article.image, image_root)
    if src:
        blocks.append(image(article.caption or article.title, src))
        caption = escape_inline(article.caption or "")
        if caption:
            blocks.append(emphasis(caption, paragraph=True))
    blocks.append("---")

    body = body_to_markdown(article.html if body_html is None else body_html, root=image_root)
    if body:
        blocks.append(body)

    address = url(public_url)
    blocks += [
        "---",
        SHARE_TEXT,
        # An autolink shows the whole address and stays one tap (or long press) to copy.
        f"<{address}>",
        f"[![{QR_ALT}]({url(article.slug + '.md.png')})]({address})",
        # Text, not a link: readers behind the firewall could not open it anyway.
        ORIGINAL_TEXT + escape_inline(article.url),
        "---",
        menu,
    ]
    if site.counter_url:
        blocks.append(counter_pixel(site.counter_url, article.path))
    return "\n\n".join(blocks) + "\n"
