"""The page's script: renders the per-asset table from the embedded JSON, a page at a time.

It never assigns ``innerHTML`` from data: every value goes in through ``textContent`` and the
only hrefs are the links made in Python (``html.py``). State (search, filters, sort, page) lives
in the URL fragment so a filtered view can be bookmarked or sent to a colleague.
"""

from __future__ import annotations

from batcher.reporting.page_js_dom import JS_DOM

JS = (
    r"""
(function () {
"use strict";
var data = JSON.parse(document.getElementById("report-data").textContent);
var T = data.t, rows = data.rows, PAGE = 100;
var SEV = ["CRITICAL", "MAJOR", "MINOR", "INFO"];
var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
// Made once: the first toLocaleString() call costs tens of ms of locale set-up.
var num = new Intl.NumberFormat().format;
var $ = function (id) { return document.getElementById(id); };
var state = {q: "", status: "", sev: "", rule: "", sort: "row", dir: 1, page: 0};
var open = new Set(), view = [], sorted = null;

function sevRank(s) { var i = SEV.indexOf(s); return i < 0 ? SEV.length : i; }
var ruleCount = new Map(), sevSeen = new Set();
rows.forEach(function (r) {
  var hay = [r.p, r.sid || "", r.aid || "", r.s, r.m || ""];
  r.sevs = new Set(); r.rules = new Set();
  r.f.forEach(function (f) {
    r.sevs.add(T[f[1]]); r.rules.add(T[f[0]]); sevSeen.add(T[f[1]]);
    hay.push(T[f[0]], T[f[2]], T[f[3]], T[f[4]]);
    (f[5] || []).forEach(function (p) { hay.push(T[p[0]]); });
  });
  r.rules.forEach(function (c) { ruleCount.set(c, (ruleCount.get(c) || 0) + 1); });
  if (r.e) { hay.push(r.e.code, r.e.message, r.e.stage); }
  if (r.c) { Object.keys(r.c).forEach(function (k) { hay.push(r.c[k]); }); }
  r.hay = hay.join("\n").toLowerCase();
});

function option(sel, value, label) {
  var o = document.createElement("option"); o.value = value; o.textContent = label;
  sel.appendChild(o);
}
SEV.concat(Array.from(sevSeen).filter(function (s) { return SEV.indexOf(s) < 0; }).sort())
  .forEach(function (s) { option($("f-sev"), s, s); });
Array.from(ruleCount.keys()).sort(function (a, b) {
  return ruleCount.get(b) - ruleCount.get(a) || collator.compare(a, b);
}).forEach(function (c) { option($("f-rule"), c, c + " (" + ruleCount.get(c) + " rows)"); });

var keys = {
  row: function (r) { return r.r; }, path: function (r) { return r.p; },
  status: function (r) { return r.s; }, method: function (r) { return r.m || "~"; },
  issues: function (r) { return r.n == null ? -1 : r.n; },
  worst: function (r) { return r.w ? sevRank(r.w) : 99; },
  sid: function (r) { return r.sid || "~"; }, aid: function (r) { return r.aid || "~"; }
};
function sortRows() {
  var key = keys[state.sort] || keys.row, dir = state.dir;
  sorted = rows.slice().sort(function (a, b) {
    var x = key(a), y = key(b);
    var c = typeof x === "number" ? x - y : collator.compare(x, y);
    return c * dir || a.r - b.r;
  });
}
function applyFilters() {
  if (!sorted) { sortRows(); }  // once per sort order, not per keystroke
  var t0 = performance.now(), q = state.q.trim().toLowerCase();
  view = sorted.filter(function (r) {
    return (!state.status || r.s === state.status) && (!state.sev || r.sevs.has(state.sev)) &&
      (!state.rule || r.rules.has(state.rule)) && (!q || r.hay.indexOf(q) >= 0);
  });
  var pages = Math.max(1, Math.ceil(view.length / PAGE));
  state.page = Math.min(Math.max(0, state.page), pages - 1);
  render();
  document.body.setAttribute("data-filter-ms", (performance.now() - t0).toFixed(1));
  saveHash();
}

"""
    + JS_DOM
    + r"""function idCell(id) {
  // The first 8 characters tell IDs apart at a glance; the full ID is in the tooltip and
  // in the expanded row, where it can be selected and copied.
  var td = el("td", "id", id ? (id.length > 9 ? id.slice(0, 8) + "…" : id) : "—");
  td.title = id || ""; return td;
}
function render() {
  var body = document.querySelector("#assets tbody"), frag = document.createDocumentFragment();
  var start = state.page * PAGE, slice = view.slice(start, start + PAGE);
  slice.forEach(function (r) {
    var tr = el("tr", "main" + (open.has(r.r) ? " open" : "")), tog = el("button", "tog");
    tog.type = "button"; tog.textContent = open.has(r.r) ? "▾" : "▸";
    tog.setAttribute("aria-expanded", open.has(r.r) ? "true" : "false");
    tog.setAttribute("aria-label", "Show findings and errors of row " + r.r);
    var c0 = el("td"); c0.appendChild(tog); tr.appendChild(c0);
    tr.appendChild(el("td", "c-num", r.r));
    tr.appendChild(pathCell(r));
    var st = el("td"); st.appendChild(pill("st", r.s)); tr.appendChild(st);
    tr.appendChild(el("td", r.m ? null : "muted", r.m || "—"));
    tr.appendChild(el("td", "c-num", r.n == null ? "—" : r.n));
    var w = el("td"); w.appendChild(pill("sev", r.w)); tr.appendChild(w);
    tr.appendChild(idCell(r.sid)); tr.appendChild(idCell(r.aid));
    tr.addEventListener("click", function () {
      if (open.has(r.r)) { open.delete(r.r); } else { open.add(r.r); }
      render(); saveHash();
    });
    frag.appendChild(tr);
    if (open.has(r.r)) { frag.appendChild(detail(r)); }
  });
  if (!slice.length) {
    var none = el("tr"), td = el("td", "empty", "No rows match.");
    td.colSpan = 9; none.appendChild(td); frag.appendChild(none);
  }
  body.replaceChildren(frag);
  var pages = Math.max(1, Math.ceil(view.length / PAGE));
  var all = num(rows.length);
  $("count").textContent = view.length ? "Showing " + num(start + 1) + "–" +
    num(start + slice.length) + " of " + num(view.length) +
    (view.length === rows.length ? " rows" : " matching rows (" + all + " in all)")
    : "0 of " + all + " rows";
  $("page-info").textContent = "Page " + (state.page + 1) + " of " + pages;
  document.querySelectorAll(".pager button").forEach(function (b) {
    var p = b.getAttribute("data-page");
    b.disabled = (p === "first" || p === "prev") ? state.page === 0 : state.page >= pages - 1;
  });
  document.querySelectorAll("#assets th[data-key]").forEach(function (th) {
    var k = th.getAttribute("data-key");
    if (k !== state.sort) { th.removeAttribute("aria-sort"); return; }
    th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
  });
}

function saveHash() {
  var p = new URLSearchParams();
  if (state.q) { p.set("q", state.q); }
  if (state.status) { p.set("status", state.status); }
  if (state.sev) { p.set("severity", state.sev); }
  if (state.rule) { p.set("rule", state.rule); }
  if (state.sort !== "row" || state.dir < 0) {
    p.set("sort", (state.dir < 0 ? "-" : "") + state.sort);
  }
  if (state.page) { p.set("page", String(state.page + 1)); }
  if (open.size) { p.set("open", Array.from(open).join(",")); }
  var h = p.toString();
  try { history.replaceState(null, "", h ? "#" + h : location.pathname + location.search); }
  catch (e) { /* some browsers refuse replaceState on file: pages; the view still works */ }
}
function loadHash() {
  var p = new URLSearchParams(location.hash.slice(1)), sort = p.get("sort") || "row";
  state.q = p.get("q") || ""; state.status = p.get("status") || "";
  state.sev = (p.get("severity") || "").toUpperCase(); state.rule = p.get("rule") || "";
  state.dir = sort.charAt(0) === "-" ? -1 : 1; state.sort = sort.replace(/^-/, "");
  state.page = Math.max(0, (parseInt(p.get("page") || "1", 10) || 1) - 1);
  open = new Set((p.get("open") || "").split(",").map(Number).filter(Boolean));
  $("q").value = state.q; $("f-status").value = state.status;
  $("f-sev").value = state.sev; $("f-rule").value = state.rule;
}

function refilter() { state.page = 0; applyFilters(); }
$("q").addEventListener("input", function () { state.q = this.value; refilter(); });
$("f-status").addEventListener("change", function () { state.status = this.value; refilter(); });
$("f-sev").addEventListener("change", function () { state.sev = this.value; refilter(); });
$("f-rule").addEventListener("change", function () { state.rule = this.value; refilter(); });
$("f-clear").addEventListener("click", function () {
  state.q = state.status = state.sev = state.rule = "";
  $("q").value = ""; $("f-status").value = ""; $("f-sev").value = ""; $("f-rule").value = "";
  refilter();
});
document.querySelectorAll("#assets th[data-key] button").forEach(function (b) {
  b.addEventListener("click", function () {
    var k = b.parentNode.getAttribute("data-key");
    state.dir = state.sort === k ? -state.dir : (k === "issues" ? -1 : 1);
    state.sort = k; sorted = null; applyFilters();
  });
});
document.querySelectorAll(".pager button").forEach(function (b) {
  b.addEventListener("click", function () {
    var p = b.getAttribute("data-page"), last = Math.ceil(view.length / PAGE) - 1;
    state.page = p === "first" ? 0 : p === "last" ? last : state.page + (p === "next" ? 1 : -1);
    applyFilters();
    $("assets").scrollIntoView({block: "start"});
  });
});
document.querySelectorAll(".bar-link").forEach(function (g) {
  function pick() {
    if (g.hasAttribute("data-severity")) {
      state.sev = g.getAttribute("data-severity"); $("f-sev").value = state.sev;
    }
    if (g.hasAttribute("data-rule")) {
      state.rule = g.getAttribute("data-rule"); $("f-rule").value = state.rule;
    }
    refilter();
    $("assets").scrollIntoView({block: "start", behavior: "smooth"});
  }
  g.addEventListener("click", pick);
  g.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); pick(); }
  });
});
window.addEventListener("hashchange", function () { loadHash(); sorted = null; applyFilters(); });

loadHash();
applyFilters();
document.body.setAttribute("data-ready", String(rows.length));
})();
"""
)
