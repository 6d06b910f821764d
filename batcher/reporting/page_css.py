"""The page's stylesheet, inlined (no external fonts: the system's own sans-serif, with the
common CJK families named so Chinese, Japanese and Korean file names show where such fonts
are installed, rather than as boxes)."""

from __future__ import annotations

CSS = """
:root{--ink:#1d2630;--muted:#5b6773;--line:#dfe3e8;--bg:#f4f5f7;--panel:#fff;
--ok:#2e7d32;--bad:#c62828;--err:#6a3d9a;--accent:#34598a;
--crit:#c62828;--major:#ef6c00;--minor:#f2b705;--info:#8a939b}
*{box-sizing:border-box}
html{font-size:15px}
body{margin:0;background:var(--bg);color:var(--ink);line-height:1.45;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Liberation Sans",
"Helvetica Neue",Arial,"Noto Sans CJK SC","Noto Sans CJK JP","Noto Sans CJK KR",
"Source Han Sans SC","PingFang SC","Hiragino Sans","Hiragino Kaku Gothic ProN",
"Microsoft YaHei","Yu Gothic","Malgun Gothic","WenQuanYi Micro Hei",sans-serif;
font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono",Menlo,Consolas,monospace;
font-size:.86em}
header.top{background:#1f3047;color:#fff;padding:22px 32px 18px}
header.top h1{margin:0 0 4px;font-size:1.6rem;font-weight:650;letter-spacing:.01em}
.subtitle{margin:0;color:#c9d3df}
.subtitle strong{color:#fff;font-weight:600}
.notice{margin:10px 0 0;padding:6px 10px;border-radius:6px;background:#2c4262;color:#fff;
display:inline-block;margin-right:8px}
.notice.warn{background:#8a5a00}
main{padding:20px 32px 8px;max-width:1500px}
h2{font-size:1.02rem;margin:0;font-weight:650}
.cards{display:grid;grid-template-columns:repeat(6,minmax(0,1fr));gap:12px;margin-bottom:16px}
.card{background:var(--panel);border:1px solid var(--line);border-left:5px solid var(--accent);
border-radius:8px;padding:10px 14px}
.card.ok{border-left-color:var(--ok)}.card.bad{border-left-color:var(--bad)}
.card.err{border-left-color:var(--err)}
.card-label{color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.06em;
font-weight:600}
.card-value{font-size:1.75rem;font-weight:650;line-height:1.2}
.card-note{color:var(--muted);font-size:.82rem}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:14px 18px;
margin:0}
.charts{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,3fr);gap:12px;
margin-bottom:16px}
figcaption{display:flex;align-items:baseline;gap:10px;margin-bottom:8px}
.hint{color:var(--muted);font-size:.85rem;margin:0}
svg.chart{max-width:100%;height:auto;display:block}
.bar-label{font-size:13px;font-weight:600;fill:var(--ink)}
.bar-value{font-size:13px;fill:var(--ink)}
.bar-note{font-size:11.5px;fill:var(--muted)}
.bar-hit{fill:transparent}
.bar-link{cursor:pointer}
.bar-link:hover .bar-hit,.bar-link:focus .bar-hit{fill:#eef2f7}
.bar-link:focus{outline:none}
.chart-empty{color:var(--muted)}
.side h3{font-size:.82rem;text-transform:uppercase;letter-spacing:.05em;color:#3a4652;
margin:18px 0 6px}
.mini{width:auto;min-width:70%;border-collapse:collapse}
.mini td,.mini th{padding:4px 10px 4px 0;border-bottom:1px solid var(--line);font-size:.9rem}
.mini th{font-weight:600;color:var(--muted);font-size:.78rem;text-transform:uppercase}
.panel-head{display:flex;align-items:baseline;gap:14px;margin-bottom:10px}
.toolbar{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-bottom:10px}
.toolbar input,.toolbar select{font:inherit;padding:6px 10px;border:1px solid #c4ccd5;
border-radius:6px;background:#fff;color:var(--ink)}
.toolbar input{width:min(380px,100%)}
.count{color:var(--muted);margin-left:auto}
.link-btn{font:inherit;background:none;border:none;color:var(--accent);cursor:pointer;
text-decoration:underline;padding:4px}
.table-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
thead th{background:#eef1f5;position:sticky;top:0;font-size:.82rem;text-transform:uppercase;
letter-spacing:.04em;color:#3a4652;white-space:nowrap}
th button{font:inherit;color:inherit;background:none;border:none;padding:0;cursor:pointer;
text-transform:inherit;letter-spacing:inherit}
th[aria-sort=ascending] button::after{content:" ▲";font-size:.75em}
th[aria-sort=descending] button::after{content:" ▼";font-size:.75em}
.c-num{text-align:right}
.c-tog{width:28px}
tr.main{cursor:pointer}
tr.main:hover{background:#f7f9fc}
tr.main.open{background:#eef3fa}
tr.main td.path{max-width:520px;overflow-wrap:anywhere}
tr.main>td{vertical-align:middle}
td.path a{text-decoration:none;color:inherit}td.path a:hover .name{text-decoration:underline}
td.path .name{color:var(--accent)}
.path .dir{color:var(--muted)}
.path .name{font-weight:600}
.tog{background:none;border:none;font-size:.9rem;cursor:pointer;color:var(--muted);padding:0 4px}
.id{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.8rem;
color:#3a4652;white-space:nowrap}
.pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:.8rem;font-weight:600;
white-space:nowrap}
.st-complete{background:#e3f1e4;color:#1b5e20}.st-failed{background:#fbe3e3;color:#a31515}
.st-error{background:#ece4f5;color:#4a2a73}
.sev{color:#fff}.sev-CRITICAL{background:var(--crit)}.sev-MAJOR{background:var(--major)}
.sev-MINOR{background:var(--minor);color:#3b2c00}.sev-INFO{background:var(--info)}
.sev-other{background:#5c6bc0}
.muted{color:var(--muted)}
tr.detail>td{background:#fafbfd;padding:10px 16px 14px 44px}
.detail h3{font-size:.85rem;margin:6px 0;text-transform:uppercase;letter-spacing:.05em;
color:#3a4652}
.findings{width:auto;min-width:60%;border:1px solid var(--line);background:#fff}
.findings th{background:#f2f4f7;font-size:.78rem}
.errbox{border-left:4px solid var(--err);background:#f6f1fb;padding:8px 12px;margin:6px 0;
border-radius:4px;overflow-wrap:anywhere}
td.why{max-width:420px}.why-head{font-weight:600}.why-text{color:#3a4652;font-size:.9em}
.prec-list{margin:0;padding-left:16px}.prec-list li{margin:0 0 2px}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:4px 0}
.kv dt{color:var(--muted)}.kv dd{margin:0;overflow-wrap:anywhere}
a{color:var(--accent)}
td.empty{text-align:center;color:var(--muted);padding:24px}
.pager{display:flex;gap:8px;align-items:center;justify-content:center;margin-top:10px}
.pager button{font:inherit;padding:4px 12px;border:1px solid #c4ccd5;border-radius:6px;
background:#fff;cursor:pointer}
.pager button:disabled{opacity:.4;cursor:default}
footer{color:var(--muted);font-size:.82rem;padding:12px 32px 24px}
@media (max-width:1100px){.cards{grid-template-columns:repeat(3,minmax(0,1fr))}
.charts{grid-template-columns:1fr}}
@media print{.toolbar,.pager{display:none}header.top{background:none;color:#000}}
"""
