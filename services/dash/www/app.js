// opcenter dashboard: renders /api/state every few seconds and the bus
// tail from /api/events (server-sent events).  Data only ever reaches
// the page through textContent (never as HTML).
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function clear(e) {
  while (e.firstChild) e.removeChild(e.firstChild);
  return e;
}

function usd(v) {
  return typeof v === "number" ? "$" + v.toFixed(4) : "-";
}

function age(ms) {
  if (typeof ms !== "number" || ms < 0) return "-";
  if (ms < 10000) return (ms / 1000).toFixed(1) + "s";
  if (ms < 120000) return Math.round(ms / 1000) + "s";
  return Math.round(ms / 60000) + "m";
}

function duration(a, b) {
  if (!a || !b) return "-";
  const d = Date.parse(b) - Date.parse(a);
  return isNaN(d) ? "-" : age(d);
}

function pill(id, text, cls) {
  const p = $(id);
  p.textContent = text;
  p.className = "pill " + (cls || "");
}

function dl(obj, keys) {
  const d = el("dl");
  for (const k of keys || Object.keys(obj || {})) {
    const v = obj ? obj[k] : undefined;
    if (v === undefined) continue;
    d.appendChild(el("dt", k));
    d.appendChild(el("dd",
      v !== null && typeof v === "object" ? JSON.stringify(v) : v));
  }
  return d;
}

function instances(list) {
  const tb = clear($("instances").tBodies[0]);
  for (const i of list || []) {
    const st = i.status || {};
    const tr = el("tr");
    tr.dataset.name = i.name;
    tr.appendChild(el("td", i.name));
    const ok = i.alive === true || i.state === "remote";
    tr.appendChild(el("td", i.state || "?", ok ? "ok" : "bad"));
    tr.appendChild(el("td", i.restarts !== undefined ? i.restarts : "-"));
    tr.appendChild(el("td", age(i.heartbeat_age_ms),
      i.stale ? "bad" : ""));
    const lags = Object.entries(i.lag || {}).map(([k, v]) => k + ":" + v);
    tr.appendChild(el("td", lags.length ? lags.join(" ") : "-",
      i.lag_total > 0 ? "warn" : ""));
    tr.appendChild(el("td", st.journal_seq !== undefined ? st.journal_seq : "-"));
    tr.appendChild(el("td", st.last_error || (i.answered ? "-" : "no answer"),
      "wrap" + (st.last_error ? " bad" : "")));
    tb.appendChild(tr);
  }
}

const STATES = ["Backlog", "Ready for AI", "Running", "In Review", "Review",
  "Blocked", "Done", "Cancelled"];

function board(b) {
  const counts = clear($("board-counts"));
  const c = (b && b.counts) || {};
  for (const s of Object.keys(c)) counts.appendChild(el("span", s + ": " + c[s], "chip"));
  const div = clear($("board"));
  const by = {};
  for (const t of (b && b.tasks) || []) (by[t.state] = by[t.state] || []).push(t);
  const order = STATES.concat(Object.keys(by).filter((s) => !STATES.includes(s)));
  for (const s of order) {
    if (!by[s]) continue;
    const col = el("div", null, "col");
    col.dataset.state = s;
    col.appendChild(el("h3", s + " (" + by[s].length + ")"));
    const ul = el("ul");
    for (const t of by[s].slice(0, 10)) {
      ul.appendChild(el("li", t.task_id + " " + (t.title || t.goal || "") +
        " [" + (t.repo_key || "") + "]"));
    }
    col.appendChild(ul);
    div.appendChild(col);
  }
  if (!div.firstChild) div.appendChild(el("p", "no tasks", "muted"));
}

function runs(list) {
  const tb = clear($("runs").tBodies[0]);
  const ev = clear($("evidence"));
  for (const r of list || []) {
    const tr = el("tr");
    tr.dataset.run = r.run_id;
    tr.appendChild(el("td", (r.run_id || "").slice(0, 12)));
    tr.appendChild(el("td", r.task_id || "-"));
    tr.appendChild(el("td", r.status || "-",
      r.success === true ? "ok" : r.success === false ? "bad" : ""));
    tr.appendChild(el("td", (r.lane || "-") + " / " + (r.backend || "-")));
    tr.appendChild(el("td", duration(r.started_at, r.completed_at)));
    tr.appendChild(el("td", usd(typeof r.cost_usd === "number" ? r.cost_usd : r.estimated_usd)));
    tr.appendChild(el("td", r.failure_category || r.policy_status || "-"));
    const pr = el("td");
    if (typeof r.pr_url === "string" && /^https?:\/\//.test(r.pr_url)) {
      const a = el("a", r.pr_url.replace(/^.*\/pull\//, "#"));
      a.href = r.pr_url;
      a.rel = "noopener noreferrer";
      pr.appendChild(a);
    } else pr.textContent = "-";
    tr.appendChild(pr);
    tb.appendChild(tr);
    if (Array.isArray(r.files) && r.files.length) {
      const d = el("details");
      d.dataset.run = r.run_id;
      d.appendChild(el("summary", "evidence of " + r.run_id.slice(0, 12) +
        " (" + r.files.length + " files)"));
      const ul = el("ul");
      for (const f of r.files) {
        const li = el("li");
        const a = el("a", f);
        a.href = "/evidence/" + encodeURIComponent(r.run_id) + "/" +
          String(f).split("/").map(encodeURIComponent).join("/");
        a.className = "evidence";
        li.appendChild(a);
        ul.appendChild(li);
      }
      d.appendChild(ul);
      ev.appendChild(d);
    }
  }
  if (!tb.firstChild) {
    const tr = el("tr");
    const td = el("td", "no runs yet", "muted");
    td.colSpan = 8;
    tr.appendChild(td);
    tb.appendChild(tr);
  }
}

function scope(name, sc) {
  const div = el("div", null, "col");
  const cap = sc && typeof sc.cap_usd === "number" ? sc.cap_usd : null;
  const spent = (sc && sc.spent_usd) || 0, res = (sc && sc.reserved_usd) || 0;
  div.appendChild(el("h3", name + ": " + usd(spent) + " spent + " + usd(res) +
    " reserved" + (cap !== null ? " of " + usd(cap) + " a day" : ", no cap") +
    (sc && sc.held ? " - cap reached" : "")));
  if (cap) {
    const bar = el("div", null, "bar" + (spent + res >= cap ? " bad" : ""));
    const fill = el("span");
    fill.style.width = Math.min(100, 100 * (spent + res) / cap) + "%";
    bar.appendChild(fill);
    div.appendChild(bar);
  }
  return div;
}

function spend(s) {
  const div = clear($("spend"));
  const caps = s && s.caps;
  if (caps && caps.global) {
    div.appendChild(scope("today, all repos (router, last 24 h)", caps.global));
    for (const [k, v] of Object.entries(caps.repos || {})) div.appendChild(scope(k, v));
    const g = caps.global, cap = typeof g.cap_usd === "number" ? g.cap_usd : null;
    pill("pill-spend", "spend " + usd((g.spent_usd || 0) + (g.reserved_usd || 0)) +
      (cap !== null ? " / " + usd(cap) : ""), g.held ? "bad" : "ok");
  } else pill("pill-spend", "spend ?", "warn");
  for (const [label, w] of [["today (recorder)", s && s.day], ["this week", s && s.week]]) {
    if (!w) continue;
    div.appendChild(el("p", label + ": " + usd(w.total_estimated_usd) + " over " +
      (w.total_executions || 0) + " executions (" + w.window_days + " d)"));
  }
}

function guard(st) {
  const bk = st.breaker || {};
  const b = clear($("breaker"));
  const phase = bk.phase || "unknown";
  b.appendChild(el("p", "breaker: " + phase, phase === "closed" ? "ok" : "bad"));
  if (bk.detail) b.appendChild(dl(bk.detail, ["failure_rate", "samples",
    "failures", "window", "min_samples", "threshold", "probe_run_id"]));
  pill("pill-breaker", "breaker " + phase, phase === "closed" ? "ok" : "bad");
  const p = clear($("pause"));
  let paused = 0;
  for (const [inst, pz] of Object.entries(st.pause || {})) {
    if (pz.all) {
      paused++;
      p.appendChild(el("p", inst + ": dispatch PAUSED (all repos): " + (pz.all.reason || ""), "bad"));
    }
    for (const [repo, r] of Object.entries(pz.repos || {})) {
      paused++;
      p.appendChild(el("p", inst + ": dispatch PAUSED (" + repo + "): " + (r.reason || ""), "bad"));
    }
  }
  if (!paused) p.appendChild(el("p", "dispatch: running", "ok"));
  pill("pill-pause", paused ? "dispatch PAUSED" : "dispatch running", paused ? "bad" : "ok");
}

function escalations(e) {
  const d = clear($("escalations"));
  if (!e) { d.appendChild(el("p", "no escalator", "muted")); return; }
  d.appendChild(dl(e, ["escalations", "pending", "sent", "suppressed", "failed",
    "self_heal_paused", "last_error"]));
  const ul = el("ul");
  for (const r of e.recent || []) {
    const li = el("li", (r.at || "") + " " + r.kind + " " + (r.key || "") +
      " [" + r.state + "]: " + (r.message || ""));
    li.dataset.kind = r.kind;
    ul.appendChild(li);
  }
  d.appendChild(ul);
}

function autonomy(a) {
  const d = clear($("autonomy"));
  if (!a || !a.cycle) { d.appendChild(el("p", "no cycle yet", "muted")); return; }
  d.appendChild(dl(Object.assign({ at: a.ts ? new Date(a.ts).toISOString() : "-",
    auto: a.auto, quiet: a.quiet }, a.cycle),
    ["cycle_id", "at", "repo", "candidates", "created", "suppressed", "reasons",
      "auto", "quiet"]));
  const ul = el("ul");
  for (const s of a.suppressed || [])
    ul.appendChild(el("li", (s.reason || "?") + ": " + (s.subject || s.dedup_key || "")));
  d.appendChild(ul);
}

let failures = 0;
async function refresh() {
  try {
    const r = await fetch("/api/state", { credentials: "same-origin", cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    const st = await r.json();
    $("generated").textContent = st.generated_at || "-";
    instances(st.instances);
    board(st.board);
    runs(st.runs);
    spend(st.spend || {});
    guard(st);
    escalations(st.escalations);
    autonomy(st.autonomy);
    failures = 0;
  } catch (e) {
    failures++;
    $("generated").textContent = "unavailable (" + e.message + ")";
  }
  setTimeout(refresh, failures ? 5000 : 2000);
}

let live = 0, beats = 0;
function tail() {
  const es = new EventSource("/api/events");
  es.onopen = () => pill("pill-live", "bus: live", "ok");
  es.onerror = () => pill("pill-live", "bus: reconnecting", "warn");
  es.onmessage = (m) => {
    let e;
    try { e = JSON.parse(m.data); } catch (x) { return; }
    // the liveness pings every instance sends: counted, not listed
    if (e.topic === "heartbeat" || e.topic === "supervisor.status") {
      beats++;
      $("hb-count").textContent = beats;
      $("hb-last").textContent = e.src;
      return;
    }
    live++;
    $("live-count").textContent = live;
    const li = el("li", null, "ev live");
    li.dataset.topic = e.topic;
    const t = new Date(e.ts).toISOString().slice(11, 19);
    let body = JSON.stringify(e.body);
    if (body.length > 400) body = body.slice(0, 400) + "...";
    li.textContent = t + " " + e.src + (e.seq ? "#" + e.seq : "") + " " +
      e.topic + " " + body;
    const ol = $("tail");
    ol.insertBefore(li, ol.firstChild);
    while (ol.children.length > 200) ol.removeChild(ol.lastChild);
  };
}

document.addEventListener("DOMContentLoaded", () => { refresh(); tail(); });
