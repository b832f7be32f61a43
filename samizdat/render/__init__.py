"""Rendering: pure functions from stored articles to the files of the publication.

`page.render_page`, `indexes.render_index` and `indexes.render_home` return Markdown text,
`qr.qr_png` returns PNG bytes; the same input always gives the same bytes. `files` writes them
atomically and only when they change; `build` decides what to write.
"""
