"""`samizdat status`: what the store knows, as text for a terminal or a cron mail."""

from __future__ import annotations

from samizdat.config import Config
from samizdat.publish import redact
from samizdat.store import Store


def status_text(config: Config) -> str:
    if not config.site.state.exists():
        return f"no cycle has run yet (no state at {config.site.state})\n"
    store = Store(config.site.state)
    try:
        counts = store.counts()
        lines = [f"{config.site.title} — output {config.site.output}", ""]
        for source in config.sources:
            total = sum(counts.get(c.id, 0) for c in source.channels)
            lines.append(f"{source.id} ({source.title}): {total} articles")
            for channel in source.channels:
                lines.append(f"  {channel.id:<20} {counts.get(channel.id, 0):>6}  {channel.title}")
        last = store.last_cycle()
        lines.append("")
        if last is None:
            lines.append("last cycle: none")
        else:
            started, finished, report = last
            state = f"finished {finished:%H:%M:%S} UTC" if finished else "did not finish"
            lines.append(
                f"last cycle: started {started:%Y-%m-%d %H:%M:%S} UTC, {state}: "
                f"{report.get('new', 0)} new, {report.get('updated', 0)} updated, "
                f"{report.get('purged', 0)} purged"
            )
        failures = store.failures()
        lines.append(f"failing items: {len(failures)}")
        for f in failures[:50]:
            lines.append(
                f"  {f.channel}: {f.url}: {f.reason} ({f.attempts} attempts, last {f.last_failed:%Y-%m-%d %H:%M})"
            )
        pushes = store.pushes()
        lines.append(f"mirrors: {len(config.mirrors)}")
        for mirror in config.mirrors:
            state = pushes.get(mirror.name)
            ok = f"{state.last_ok:%Y-%m-%d %H:%M:%S}" if state and state.last_ok else "never"
            line = f"  {mirror.name:<12} {redact(mirror.remote)} ({mirror.branch}): last push {ok}"
            if state and state.last_error:
                line += f"; last error {state.last_error_at:%Y-%m-%d %H:%M:%S}: {state.last_error}"
            lines.append(line)
        return "\n".join(lines) + "\n"
    finally:
        store.close()
