// Static search (see samizdat/site/search.py): tokenise the query as the index does, load the
// main and the recent shard of each token and the document chunks of the hits, all from this site.
// Index files are scripts that call samizdatSearch(name, value), loaded by <script> elements:
// fetch() cannot read the files of a site opened from disk, scripts can.
"use strict";
(function () {
  const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u{20000}-\u{2ffff}]+/gu;
  const WORD = /[\p{L}\p{N}]+/gu;
  const MAX_WORD = 40, MAX_RESULTS = 50;
  const base = new URL(".", document.currentScript.src.replace(/static\/[^/]*$/, ""));
  const status = document.getElementById("status");
  const list = document.getElementById("results");
  const input = document.getElementById("q");

  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  function crc32(text) {
    let c = 0xffffffff;
    for (const byte of new TextEncoder().encode(text)) c = table[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  }

  function tokens(query) {
    const text = query.normalize("NFKC").toLowerCase();
    const out = new Set();
    for (const run of text.match(CJK) || []) {
      const chars = Array.from(run);
      if (chars.length === 1) out.add(chars[0]);
      for (let i = 0; i + 1 < chars.length; i++) out.add(chars[i] + chars[i + 1]);
    }
    for (const word of text.replace(CJK, " ").match(WORD) || []) {
      if (Array.from(word).length <= MAX_WORD) out.add(word);
    }
    return [...out];
  }

  const cache = new Map();
  const waiting = new Map();
  window.samizdatSearch = (name, value) => {
    const resolve = waiting.get(name);
    waiting.delete(name);
    if (resolve) resolve(value);
  };
  function load(name) {
    if (!cache.has(name)) {
      cache.set(name, new Promise((resolve, reject) => {
        waiting.set(name, resolve);
        const script = document.createElement("script");
        script.src = new URL("search/" + name + ".js", base).href;
        // A script runs before its load event: still waiting then, it was not an index file.
        script.onload = () => {
          script.remove();
          if (waiting.delete(name)) reject(new Error(name + ": not an index file"));
        };
        script.onerror = () => {
          script.remove();
          waiting.delete(name);
          reject(new Error(name + ": not found"));
        };
        document.head.append(script);
      }));
    }
    return cache.get(name);
  }

  function decode(deltas) {
    let last = 0;
    return deltas.map((d) => (last += d));
  }

  async function search(query) {
    const terms = tokens(query);
    if (!terms.length) return null;
    const meta = await load("meta");
    let hits = null;
    for (const term of terms) {
      const crc = crc32(term);
      const [shard, recent] = await Promise.all([
        load("s/" + (crc % meta.shards)),
        load("r/" + (crc % meta.recent)),
      ]);
      // Recent ids are all above the main shards' ones: the two lists join in order.
      const ids = decode(shard[term] || []).concat(decode(recent[term] || []));
      hits = hits === null ? ids : ids.filter(((keep) => (i) => keep.has(i))(new Set(hits)));
      if (!hits.length) break;
    }
    const results = [];
    for (const id of hits.sort((a, b) => b - a)) {
      const chunk = await load("d/" + Math.floor(id / meta.chunk));
      const doc = chunk[id % meta.chunk];
      if (doc) results.push(doc);
      if (results.length >= MAX_RESULTS) break;
    }
    return results;
  }

  function show(results, query) {
    list.replaceChildren();
    if (results === null) { status.textContent = ""; return; }
    status.textContent = results.length
      ? `“${query}”：${results.length >= MAX_RESULTS ? "前 " + MAX_RESULTS : results.length} 篇`
      : `没有找到“${query}”`;
    for (const [path, title, date, channel] of results) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = new URL(path, base).href;
      a.textContent = title;
      const meta = document.createElement("time");
      meta.textContent = ` ${date} · ${channel}`;
      li.append(a, " ", meta);
      list.append(li);
    }
  }

  async function run() {
    const query = (new URLSearchParams(location.search).get("q") || "").trim();
    input.value = query;
    if (!query) return;
    status.textContent = "搜索中…";
    try {
      show(await search(query), query);
    } catch (e) {
      status.textContent = "搜索失败：" + e.message;
    }
  }
  run();
})();
