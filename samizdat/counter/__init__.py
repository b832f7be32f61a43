"""The view counter: a pixel service that counts pages, never people, and the hot list.

app.py      the ASGI app (pixel front + Starlette for /hot.json, /healthz, /metrics)
counts.py   the in-memory tally, the counter's SQLite file, the mirror's live pages
serve.py    uvicorn, one worker or several on one port
ingest.py   counting pixel hits from access logs, each line once
hot.py      the hot list for hot.md
command.py  `samizdat counter` and `samizdat counter ingest`
"""
