"""Extraction quality and speed: ours vs trafilatura vs readability, in one run.

    python bench/extraction.py [--corpus DIR] [--only ours] [--corpora gne] [--worst 10]

Scores `samizdat.extract` on the shared development corpus (skipped with a message when
the folder is absent) and on the hand-labelled fixture pages in tests/data/extract, and
prints precision / recall / F1 per corpus and documents per second for each extractor
(CPU time of this process, the extractors interleaved page by page: the machine is shared).
Exits 1 when our F1 on a corpus drops below its recorded floor (FLOORS), as a quality gate.

The metric is the corpus README's (Scrapinghub's article-extraction benchmark): tokenise
(``word``: the regex ``\\w+``; ``cjk``: NFKC, each Han/kana character one token, runs of
other word characters one token), build multisets of 4-token shingles, per page
tp = |truth ∩ pred|, fp = |pred − truth|, fn = |truth − pred| (each divided by the page's
total, which cancels in the ratios below); precision is averaged over pages with non-empty
output, recall over all pages, F1 is the harmonic mean of the two averages.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from samizdat.decode import decode_html  # noqa: E402
from samizdat.extract import extract  # noqa: E402
from samizdat.extract.text import html_to_text  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "dev"
FIXTURES = ROOT / "tests" / "data" / "extract"
CORPORA = ("scrapinghub", "gne", "cwce")
# Our F1 must stay at or above these (a little under what the extractor reaches today).
FLOORS = {"scrapinghub": 0.97, "gne": 0.98, "cwce": 0.945, "fixtures": 0.98}

_WORD = re.compile(r"\w+")
_HAN_KANA = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CJK = re.compile(rf"[{_HAN_KANA}]|[^\W{_HAN_KANA}]+")


def tokens(text: str, tokenizer: str) -> list[str]:
    if tokenizer == "cjk":
        return _CJK.findall(unicodedata.normalize("NFKC", text))
    return _WORD.findall(text)


def shingles(toks: list[str], n: int = 4) -> Counter[tuple[str, ...]]:
    # As Scrapinghub's: a text shorter than n tokens is one (short) shingle.
    return Counter(tuple(toks[i : i + n]) for i in range(max(1, len(toks) - n + 1)) if toks)


def page_counts(truth: str, pred: str, tokenizer: str) -> tuple[int, int, int]:
    t, p = shingles(tokens(truth, tokenizer)), shingles(tokens(pred, tokenizer))
    return sum((t & p).values()), sum((p - t).values()), sum((t - p).values())


@dataclass(slots=True)
class Score:
    precision: float
    recall: float
    f1: float


def score(pairs: list[tuple[str, str]], tokenizer: str) -> Score:
    """pairs: (truth, prediction) per page."""
    precisions, recalls = [], []
    for truth, pred in pairs:
        tp, fp, fn = page_counts(truth, pred, tokenizer)
        if pred.strip() and tp + fp:
            precisions.append(tp / (tp + fp))
        recalls.append(tp / (tp + fn) if tp + fn else 0.0)
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    return Score(p, r, 2 * p * r / (p + r) if p + r else 0.0)


@dataclass(slots=True)
class Page:
    name: str
    html: str
    url: str | None
    truth: str
    tokenizer: str


def load_corpus(folder: Path) -> list[Page]:
    pages = []
    for path in sorted(folder.glob("*.html")):
        meta = json.loads(path.with_suffix(".json").read_text("utf-8"))
        pages.append(
            Page(
                path.stem,
                decode_html(path.read_bytes()),
                meta.get("url") or None,
                meta["body"],
                meta.get("tokenizer", "word"),
            )
        )
    return pages


def load_fixtures(folder: Path) -> list[Page]:
    """Fixture pages: <name>.html with <name>.txt (the body) or <name>.json ("body", "url")."""
    pages = []
    for path in sorted(folder.glob("*.html")):
        txt, js = path.with_suffix(".txt"), path.with_suffix(".json")
        if js.exists():
            meta = json.loads(js.read_text("utf-8"))
        elif txt.exists():
            meta = {"body": txt.read_text("utf-8")}
        else:
            continue
        body = meta["body"]
        kind = meta.get("tokenizer") or ("cjk" if re.search(f"[{_HAN_KANA}]", body) else "word")
        pages.append(Page(path.stem, decode_html(path.read_bytes()), meta.get("url"), body, kind))
    return pages


def ours(page: Page) -> str:
    return html_to_text(extract(page.html, page.url).body_html)


def trafilatura_default(page: Page) -> str:
    import trafilatura

    return trafilatura.extract(page.html, url=page.url) or ""


def readability_default(page: Page) -> str:
    import lxml.html
    from readability import Document

    summary = Document(page.html).summary()
    return lxml.html.fromstring(summary).text_content() if summary.strip() else ""


EXTRACTORS: dict[str, Callable[[Page], str]] = {
    "ours": ours,
    "trafilatura": trafilatura_default,
    "readability": readability_default,
}


def _score_outputs(pages: list[Page], outputs: list[str]) -> Score:
    pairs = [(p.truth, o) for p, o in zip(pages, outputs, strict=True)]
    # Pages of one corpus share a tokenizer; fixtures may mix, so score each group.
    groups: dict[str, list[tuple[str, str]]] = {}
    for page, pair in zip(pages, pairs, strict=True):
        groups.setdefault(page.tokenizer, []).append(pair)
    if len(groups) == 1:
        return score(pairs, pages[0].tokenizer)
    parts = [(score(g, k), len(g)) for k, g in groups.items()]
    total = sum(n for _, n in parts)
    p = sum(s.precision * n for s, n in parts) / total
    r = sum(s.recall * n for s, n in parts) / total
    return Score(p, r, 2 * p * r / (p + r) if p + r else 0.0)


def run(name: str, pages: list[Page], only: list[str], worst: int = 0) -> dict[str, Score]:
    """Run every extractor on every page, interleaved page by page, so a loaded machine
    slows them alike; speed is CPU time of this process (``time.process_time``), which
    other processes on the machine don't inflate. Wall-clock docs/s is printed beside it."""
    for extractor in only:  # imports and lazy set-up are not per-page cost
        EXTRACTORS[extractor](pages[0])
    outputs: dict[str, list[str]] = {e: [] for e in only}
    cpu = dict.fromkeys(only, 0.0)
    wall = dict.fromkeys(only, 0.0)
    for page in pages:
        for extractor in only:
            c0, w0 = time.process_time(), time.perf_counter()
            outputs[extractor].append(EXTRACTORS[extractor](page))
            cpu[extractor] += time.process_time() - c0
            wall[extractor] += time.perf_counter() - w0
    results = {}
    for extractor in only:
        result = results[extractor] = _score_outputs(pages, outputs[extractor])
        print(
            f"{name:12} {extractor:12} P {result.precision:.3f}  R {result.recall:.3f}  "
            f"F1 {result.f1:.3f}  {len(pages) / max(cpu[extractor], 1e-9):6.1f} docs/s CPU  "
            f"({len(pages) / max(wall[extractor], 1e-9):6.1f} wall)  ({len(pages)} pages)",
            flush=True,
        )
    if worst:
        rows = []
        for page, out in zip(pages, outputs["ours"], strict=True):
            tp, fp, fn = page_counts(page.truth, out, page.tokenizer)
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fn) if tp + fn else 0.0
            rows.append((2 * p * r / (p + r) if p + r else 0.0, p, r, page.name, page.url))
        for f1, p, r, page_name, url in sorted(rows)[:worst]:
            print(f"    F1 {f1:.3f}  P {p:.3f}  R {r:.3f}  {page_name}  {url or ''}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--only", nargs="+", choices=list(EXTRACTORS), default=list(EXTRACTORS))
    parser.add_argument("--worst", type=int, default=0, help="list our N worst pages per corpus")
    parser.add_argument("--corpora", nargs="+", help="only these corpora (and the fixtures)")
    args = parser.parse_args(argv)
    if "ours" not in args.only:
        args.only.insert(0, "ours")

    failures = []
    suites: list[tuple[str, list[Page]]] = []
    if args.corpus.is_dir():
        names = [c for c in CORPORA if not args.corpora or c in args.corpora]
        suites += [(c, load_corpus(args.corpus / c)) for c in names if (args.corpus / c).is_dir()]
    else:
        print(f"corpus {args.corpus} not found: skipping the corpus part", file=sys.stderr)
    suites.append(("fixtures", load_fixtures(FIXTURES)))
    for name, pages in suites:
        if not pages:
            print(f"{name}: no pages", file=sys.stderr)
            continue
        results = run(name, pages, args.only, args.worst)
        if results["ours"].f1 < FLOORS.get(name, 0.0):
            failures.append(f"{name}: F1 {results['ours'].f1:.3f} < floor {FLOORS[name]}")
    for failure in failures:
        print("BELOW FLOOR:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
