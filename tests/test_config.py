"""Config loading: defaults, relative paths, and errors that name the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from samizdat.config import load
from samizdat.errors import ConfigError

MINIMAL = """\
[site]
title = "禁闻聚合"
output = "mirror"
base_url = "https://github.com/o/r/blob/master"

[[sources]]
id = "epoch"

  [[sources.channels]]
  id = "nsc413"
  feed = "https://www.example-news.com/gb/nsc413.xml"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "samizdat.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text))
    return info.value


def test_minimal_config_gets_spec_defaults(tmp_path: Path) -> None:
    config = load(write(tmp_path, MINIMAL))
    assert config.site.output == (tmp_path / "mirror").resolve()
    assert config.site.state == (tmp_path / "samizdat.db").resolve()
    assert config.site.keep == 500
    assert config.site.convert == ""
    assert config.site.counter_url == ""
    assert config.mirrors == ()
    source = config.sources[0]
    assert source.title == "epoch"  # a source's title defaults to its id
    assert source.rules.feed_content == "auto"
    assert [c.id for _, c in config.channels()] == ["nsc413"]


def test_the_init_template_is_a_valid_config(tmp_path: Path) -> None:
    from importlib.resources import files

    text = files("samizdat").joinpath("init_template.toml").read_text(encoding="utf-8")
    config = load(write(tmp_path, text))
    assert config.mirrors[0].name == "origin"
    assert config.sources[0].rules.content == "div.post_content"
    assert config.sources[0].channels[1].items


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    text = MINIMAL.replace('  id = "nsc413"\n', '  id = "nsc413"\n  feeds = "x"\n')
    e = error(tmp_path, text)
    assert e.path.endswith("samizdat.toml")
    assert e.line == 11
    assert e.key == "sources[1].channels[1].feeds"
    assert "unknown key" in str(e)


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    e = error(tmp_path, MINIMAL.replace('output = "mirror"', 'output = "mirror"\nkeep = "many"'))
    assert (e.key, e.line) == ("site.keep", 4)
    assert "integer" in str(e)


def test_boolean_is_not_an_integer(tmp_path: Path) -> None:
    e = error(tmp_path, MINIMAL.replace('output = "mirror"', 'output = "mirror"\nkeep = true'))
    assert e.key == "site.keep"


def test_duplicate_channel_ids_across_sources(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + '\n[[sources]]\nid = "other"\n\n  [[sources.channels]]\n  id = "nsc413"\n  feed = "https://a.example/f.xml"\n'
    )
    e = error(tmp_path, text)
    assert e.key == "sources[2].channels[1].id"
    assert e.line == 17
    assert "duplicate channel id" in str(e)


@pytest.mark.parametrize(
    "channel",
    [
        '  id = "c"\n  feed = "https://a.example/f.xml"\n  list = "https://a.example/l"\n  items = "a"\n',
        '  id = "c"\n  title = "neither"\n',
    ],
)
def test_channel_needs_exactly_one_of_feed_and_list(tmp_path: Path, channel: str) -> None:
    text = MINIMAL.replace(
        '  id = "nsc413"\n  feed = "https://www.example-news.com/gb/nsc413.xml"\n', channel
    )
    e = error(tmp_path, text)
    assert "either `feed` or `list`" in str(e)
    assert e.line is not None and e.line >= 10


def test_list_channel_needs_items_selector(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'feed = "https://www.example-news.com/gb/nsc413.xml"', 'list = "https://a.example/l"'
    )
    assert error(tmp_path, text).key == "sources[1].channels[1].items"


def test_missing_required_keys(tmp_path: Path) -> None:
    assert (
        error(
            tmp_path, MINIMAL.replace('base_url = "https://github.com/o/r/blob/master"\n', "")
        ).key
        == "site.base_url"
    )
    no_sources = MINIMAL.split("[[sources]]")[0]
    assert error(tmp_path, no_sources).key == "sources"


def test_bad_values(tmp_path: Path) -> None:
    assert (
        error(
            tmp_path, MINIMAL.replace('output = "mirror"', 'output = "mirror"\nconvert = "x2y"')
        ).key
        == "site.convert"
    )
    e = error(tmp_path, MINIMAL.replace('id = "epoch"', 'id = "epoch"\ncontent = "div[["'))
    assert e.key == "sources[1].content" and "CSS selector" in str(e)
    e = error(tmp_path, MINIMAL.replace('id = "epoch"', 'id = "epoch"\nfeed_content = "sometimes"'))
    assert e.key == "sources[1].feed_content"


def test_toml_syntax_error_has_a_line(tmp_path: Path) -> None:
    e = error(tmp_path, MINIMAL.replace('title = "禁闻聚合"', 'title = "禁闻聚合'))
    assert e.line == 2 and e.key == "syntax"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "nope.toml")


def test_mirror_paths_resolve_against_the_config(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + '\n[[mirrors]]\nname = "a"\nremote = "remote.git"\n\n[[mirrors]]\nname = "b"\nremote = "git@github.com:o/r.git"\nbase_url = "https://gitlab.com/o/r/-/blob/master/"\n'
    )
    config = load(write(tmp_path, text))
    assert config.mirrors[0].remote == str((tmp_path / "remote.git").resolve())
    assert config.mirrors[0].branch == "master"
    assert config.mirrors[1].remote == "git@github.com:o/r.git"
    assert config.mirrors[1].base_url == "https://gitlab.com/o/r/-/blob/master"


def test_fetch_table_keys(tmp_path: Path) -> None:
    text = (
        MINIMAL + '\n[fetch]\nper_host = 8\nproxy = "socks5://127.0.0.1:1080"\nread_timeout = 5\n'
    )
    fetch = load(write(tmp_path, text)).fetch
    assert (fetch.per_host, fetch.proxy, fetch.read_timeout) == (8, "socks5://127.0.0.1:1080", 5.0)
    e = error(tmp_path, MINIMAL + "\n[fetch]\nper_host = 0\n")
    assert (e.key, e.line) == ("fetch.per_host", 14)


def test_bad_proxy_is_a_config_error(tmp_path: Path) -> None:
    e = error(tmp_path, MINIMAL + '\n[fetch]\nproxy = "ftp://127.0.0.1:21"\n')
    assert (e.key, e.line) == ("fetch.proxy", 14)
