"""DOM builders for the page's script: pills, links, the expanded detail of a row.

Data only ever enters the page through ``textContent``; the one attribute set from data is
``href``, and only to what ``html.py`` made: a relative file link (``./``, ``../``), a
``file:`` URI, or (precedents) an ``http(s):`` URL.
"""

from __future__ import annotations

JS_DOM = r"""
function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) { e.className = cls; }
  if (text != null) { e.textContent = String(text); }
  return e;
}
function pill(kind, value) {
  if (!value) { return el("span", "muted", "—"); }
  var known = sevRank(value) < SEV.length;
  var cls = kind === "sev" ? "pill sev " + (known ? "sev-" + value : "sev-other")
    : "pill st-" + value;
  return el("span", cls, value);
}
function fileHref(uri) {
  return !!uri && (uri.indexOf("./") === 0 || uri.indexOf("../") === 0 ||
    uri.indexOf("file:") === 0);
}
function webHref(uri) {
  return !!uri && (uri.indexOf("https://") === 0 || uri.indexOf("http://") === 0);
}
function link(uri, text) {
  if (!fileHref(uri)) { return el("span", null, text); }
  var a = el("a", null, text); a.href = uri; a.title = "Open the file (relative to this page)";
  return a;
}
function reasoning(f) {
  var td = el("td", "why");
  if (T[f[3]]) { td.appendChild(el("div", "why-head", T[f[3]])); }
  if (T[f[4]]) { td.appendChild(el("div", "why-text", T[f[4]])); }
  return td;
}
function precedents(f) {
  var td = el("td", "prec");
  if (!f[5] || !f[5].length) { td.appendChild(el("span", "muted", "—")); return td; }
  var ul = el("ul", "prec-list");
  f[5].forEach(function (p) {
    var li = el("li"), title = T[p[0]];
    if (webHref(p[1])) {
      var a = el("a", null, title); a.href = p[1]; a.rel = "noopener noreferrer";
      a.target = "_blank"; li.appendChild(a);
    } else { li.appendChild(el("span", null, title)); }
    var meta = [T[p[2]], T[p[3]]].filter(Boolean).join(", ");
    if (meta) { li.appendChild(el("span", "muted", " — " + meta)); }
    ul.appendChild(li);
  });
  td.appendChild(ul);
  return td;
}
function pathCell(r) {
  var td = el("td", "path"), cut = r.p.lastIndexOf("/") + 1, a;
  td.title = r.p;
  if (fileHref(r.u)) {
    a = el("a"); a.href = r.u;
    a.addEventListener("click", function (ev) { ev.stopPropagation(); });
  } else { a = el("span"); }
  a.appendChild(el("span", "dir", r.p.slice(0, cut)));
  a.appendChild(el("span", "name", r.p.slice(cut)));
  td.appendChild(a);
  return td;
}
function pairs(list) {
  var kv = el("dl", "kv");
  list.forEach(function (p) {
    if (p[1] == null || p[1] === "") { return; }
    kv.appendChild(el("dt", null, p[0])); kv.appendChild(el("dd", null, p[1]));
  });
  return kv;
}
function detail(r) {
  var td = el("td"); td.colSpan = 9;
  var box = el("div", "detail");
  if (r.f.length) {
    box.appendChild(el("h3", null, "Findings (" + r.f.length + ")"));
    var t = el("table", "findings"), head = el("tr");
    ["Severity", "Rule", "Summary", "Why this severity", "Precedents", "File"]
      .forEach(function (h) {
      head.appendChild(el("th", null, h));
    });
    t.appendChild(el("thead")).appendChild(head);
    var body = t.appendChild(el("tbody"));
    r.f.slice().sort(function (a, b) { return sevRank(T[a[1]]) - sevRank(T[b[1]]); })
      .forEach(function (f) {
        var tr = el("tr"), sevTd = el("td");
        sevTd.appendChild(pill("sev", T[f[1]]));
        tr.appendChild(sevTd);
        tr.appendChild(el("td", "mono", T[f[0]]));
        tr.appendChild(el("td", null, T[f[2]]));
        tr.appendChild(reasoning(f));
        tr.appendChild(precedents(f));
        var ftd = el("td"); ftd.appendChild(link(r.u, "open file")); tr.appendChild(ftd);
        body.appendChild(tr);
      });
    box.appendChild(t);
  } else if (r.s === "complete") {
    box.appendChild(el("p", "muted", "No findings for this asset."));
  }
  if (r.e) {
    box.appendChild(el("h3", null, "Error"));
    var eb = el("div", "errbox");
    var meta = r.e.stage + " · " + r.e.code + (r.e.httpStatus ? " · HTTP " + r.e.httpStatus : "") +
      (r.e.retryable ? " · retryable" : "");
    eb.appendChild(el("div", "mono", meta));
    eb.appendChild(el("div", null, r.e.message));
    box.appendChild(eb);
  }
  box.appendChild(el("h3", null, "Asset"));
  box.appendChild(pairs([["Manifest row", r.r], ["Path", r.p],
    ["Bytes", r.b == null ? null : num(r.b)],
    ["Submission ID", r.sid], ["Asset ID", r.aid]]));
  if (r.c) {
    box.appendChild(el("h3", null, "Your manifest columns"));
    box.appendChild(pairs(Object.keys(r.c).map(function (k) { return [k, r.c[k]]; })));
  }
  td.appendChild(box);
  var tr = el("tr", "detail"); tr.appendChild(td); return tr;
}
"""
