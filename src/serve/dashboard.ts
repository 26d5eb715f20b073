/**
 * The dashboard `shardkit serve` answers on `/`: one self-contained page (no build step, nothing
 * loaded from elsewhere) that polls `/api/status` and draws the ring as an SVG circle (who owns
 * which arcs; the moving ranges on an inner ring), shares and documents per shard, and the live
 * migration with per-move progress. Element ids and `data-` attributes are what the browser test
 * reads.
 */

/** The page's script, kept apart so the server can allow exactly it by hash in its CSP. */
export const DASHBOARD_SCRIPT = `
'use strict';
const POLL_MS = Number(new URLSearchParams(location.search).get('poll')) || 1000;
const COLORS = ['#4e79a7','#f28e2b','#e15759','#76b7b2','#59a14f','#edc948','#b07aa1','#ff9da7','#9c755f','#bab0ac'];
const SVG = 'http://www.w3.org/2000/svg';
const TOP = 4294967296;
const $ = (id) => document.getElementById(id);
const colorOf = (shards, id) => COLORS[Math.max(0, shards.indexOf(id)) % COLORS.length];
const pct = (x) => (100 * x).toFixed(2) + '%';
const num = (x) => x === null || x === undefined ? '-' : Number(x).toLocaleString('en-US');
function el(tag, attrs, text) {
  const e = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}
function arcPath(start, end, r) {
  const a0 = ((start + 1) / TOP) * 2 * Math.PI - Math.PI / 2;
  const a1 = ((end + 1) / TOP) * 2 * Math.PI - Math.PI / 2;
  const large = a1 - a0 > Math.PI ? 1 : 0;
  const p = (a) => (100 + r * Math.cos(a)).toFixed(3) + ' ' + (100 + r * Math.sin(a)).toFixed(3);
  return 'M ' + p(a0) + ' A ' + r + ' ' + r + ' 0 ' + large + ' 1 ' + p(a1);
}
function drawRing(status) {
  const svg = $('ring');
  svg.replaceChildren();
  const ring = status.ring;
  if (!ring) return;
  for (const [start, end, owner] of ring.arcs) {
    const id = ring.shards[owner];
    const path = el('svg:path', { d: arcPath(start, end, 80), stroke: colorOf(ring.shards, id), 'stroke-width': 22, fill: 'none', 'data-shard': id, class: 'arc' });
    path.appendChild(el('svg:title', {}, id + ' (' + start + ', ' + end + ']'));
    svg.appendChild(path);
  }
  const m = status.migration;
  if (m && m.active) {
    for (const mv of m.moves) {
      const done = mv.estimated === 0 ? 1 : Math.min(1, mv.copied / mv.estimated);
      svg.appendChild(el('svg:path', { d: arcPath(mv.start, mv.end, 58), stroke: colorOf(ring.shards, mv.to), 'stroke-width': 12, 'stroke-opacity': 0.25 + 0.75 * done, fill: 'none', class: 'move-arc' }));
    }
  }
  const d = status.deployment;
  svg.appendChild(el('svg:text', { x: 100, y: 96, 'text-anchor': 'middle', class: 'epoch' }, 'epoch ' + (d ? d.epoch : '?')));
  svg.appendChild(el('svg:text', { x: 100, y: 114, 'text-anchor': 'middle', class: 'phase' }, d ? (d.settling ? 'settling' : d.phase) : 'unknown'));
}
function drawShards(status) {
  const body = $('shards-body');
  body.replaceChildren();
  const d = status.deployment;
  if (!d) return;
  const shards = status.ring ? status.ring.shards : d.shards.map((s) => s.id);
  const total = d.shards.reduce((n, s) => n + (s.documents || 0), 0);
  for (const s of d.shards) {
    const tr = el('tr', { 'data-shard': s.id, class: s.reachable ? 'up' : 'down' });
    const swatch = el('span', { class: 'swatch', style: 'background:' + colorOf(shards, s.id) });
    const name = el('td'); name.append(swatch, s.id + (s.draining ? ' (draining)' : ''));
    const bar = el('div', { class: 'bar' }); bar.appendChild(el('div', { style: 'width:' + (total ? (100 * (s.documents || 0)) / total : 0) + '%;background:' + colorOf(shards, s.id) }));
    const docs = el('td', { class: 'num docs' }, num(s.documents)); docs.appendChild(bar);
    tr.append(name, el('td', { class: 'num' }, s.weight), el('td', { class: 'num share' }, pct(s.share)), el('td', { class: 'state' }, s.reachable ? 'up' : 'DOWN'),
      el('td', { class: 'num' }, s.latencyMs === null ? '-' : s.latencyMs.toFixed(1) + ' ms'), docs, el('td', { class: 'num' }, num(s.markers)), el('td', { class: 'err' }, s.error || ''));
    body.appendChild(tr);
  }
}
function drawMigration(status) {
  const box = $('migration');
  const m = status.migration;
  box.dataset.active = String(Boolean(m && m.active));
  if (!m) { $('mig-summary').textContent = status.journalError ? 'the migration journal cannot be read: ' + status.journalError : 'no migration recorded'; $('moves-body').replaceChildren(); $('mig-bar').style.width = '0%'; return; }
  const frac = m.estimated === 0 ? 1 : Math.min(1, m.copied / m.estimated);
  box.dataset.copied = String(m.copied);
  box.dataset.phase = m.phase;
  $('mig-bar').style.width = (100 * frac).toFixed(1) + '%';
  const eta = m.etaMs === null ? 'unknown' : Math.round(m.etaMs / 1000) + ' s';
  $('mig-summary').textContent = (m.active ? 'running' : 'last migration ' + (m.outcome || 'finished')) + ': ' + m.id + (m.reverse ? ' (aborting)' : '') +
    ', phase ' + m.phase + ', copied ' + num(m.copied) + '/' + num(m.estimated) + ' (' + pct(frac) + ')' +
    (m.active ? ', ' + m.docsPerSec.toFixed(1) + ' docs/s, ETA ' + eta : '');
  const body = $('moves-body');
  body.replaceChildren();
  m.moves.forEach((mv, i) => {
    const f = mv.estimated === 0 ? 1 : Math.min(1, mv.copied / mv.estimated);
    const bar = el('div', { class: 'bar' }); bar.appendChild(el('div', { style: 'width:' + (100 * f).toFixed(1) + '%;background:' + colorOf(status.ring ? status.ring.shards : [], mv.to) }));
    const progress = el('td', { class: 'num' }, num(mv.copied) + '/' + num(mv.estimated)); progress.appendChild(bar);
    body.appendChild(el('tr', { 'data-move': i }));
    body.lastChild.append(el('td', {}, mv.from + ' \\u2192 ' + mv.to), el('td', { class: 'num' }, '(' + mv.start + ', ' + mv.end + '] ' + pct((mv.end - mv.start) / TOP)), progress, el('td', {}, mv.done || 'copying'));
  });
}
async function refresh() {
  try {
    const res = await fetch('api/status', { cache: 'no-store' });
    const status = await res.json();
    const d = status.deployment;
    $('title').textContent = d ? 'shardkit: ' + d.name + ' (' + d.collection + ')' : 'shardkit';
    $('conn').textContent = status.ready ? 'ready' : 'not ready' + (status.configStore.error ? ': ' + status.configStore.error : '');
    $('conn').className = status.ready ? 'ok' : 'bad';
    $('updated').textContent = new Date(status.at).toISOString();
    drawRing(status); drawShards(status); drawMigration(status);
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  } catch (error) {
    $('conn').textContent = 'the server did not answer: ' + error; $('conn').className = 'bad';
  } finally {
    setTimeout(refresh, POLL_MS);
  }
}
refresh();
`;

/** The whole page. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>shardkit</title><link rel="icon" href="data:,">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{display:flex;gap:1em;align-items:baseline;padding:.8em 1.2em;background:#1f2d3d;color:#fff}
header h1{font-size:1.2em;margin:0}.ok{color:#7bd88f}.bad{color:#ff8080;font-weight:bold}#updated{margin-left:auto;opacity:.7}
main{display:grid;grid-template-columns:340px 1fr;gap:1.2em;padding:1.2em}
section{background:#fff;border-radius:6px;padding:1em;box-shadow:0 1px 2px #0002}h2{font-size:1em;margin:0 0 .6em}
#ring{width:300px;height:300px}.epoch{font-size:14px;font-weight:bold}.phase{font-size:11px;fill:#555}
table{border-collapse:collapse;width:100%}th,td{padding:.3em .5em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
.num{text-align:right;font-variant-numeric:tabular-nums}.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.4em}
tr.down .state{color:#c00;font-weight:bold}.err{color:#c00;font-size:12px}
.bar{height:4px;background:#eee;border-radius:2px;margin-top:2px}.bar div{height:100%;background:#4e79a7;border-radius:2px}
#mig-track{height:10px;background:#eee;border-radius:5px;margin:.5em 0}#mig-bar{height:100%;width:0;background:#59a14f;border-radius:5px}
#migration{grid-column:1 / span 2}
</style></head>
<body>
<header><h1 id="title">shardkit</h1><span id="conn">connecting</span><span id="updated"></span></header>
<main>
<section><h2>Ring</h2><svg id="ring" viewBox="0 0 200 200" role="img" aria-label="hash ring: arcs by owning shard"></svg></section>
<section><h2>Shards</h2><table id="shards"><thead><tr><th>shard</th><th class="num">weight</th><th class="num">share</th><th>state</th><th class="num">ping</th><th class="num">documents</th><th class="num">markers</th><th></th></tr></thead><tbody id="shards-body"></tbody></table></section>
<section id="migration" data-active="false"><h2>Migration</h2><div id="mig-summary">no migration recorded</div><div id="mig-track"><div id="mig-bar"></div></div>
<table id="moves"><thead><tr><th>move</th><th class="num">range (share of the ring)</th><th class="num">copied</th><th>done</th></tr></thead><tbody id="moves-body"></tbody></table></section>
</main>
<script>${DASHBOARD_SCRIPT}</script>
</body></html>
`;
