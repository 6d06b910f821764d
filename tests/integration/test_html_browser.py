"""The HTML report in a real browser (Debian's headless chromium): the script renders the
table and the charts without a console error, data cannot inject markup, a 10,000-row
report filters in well under 100 ms, and the page paints.

Chromium is installed by ``scripts/test``; when it is missing these tests fail (a silent skip
would hide a broken page) unless ``BATCHER_SKIP_BROWSER=1``.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batcher.cli.report_cmd import main as report_main
from batcher.outcome import ErrorInfo, ReportLine
from batcher.reporting.page_css import CSS

SEVERITIES = ("CRITICAL", "MAJOR", "MINOR", "INFO")
RULES = ("CAP_3.1", "CAP_5.1", "CAP_8.4", "CAP_12.1", "CAP_15.1")
PWN = "document.body.setAttribute('data-pwned','1')"
EVIL_PATH = f'media/<script>{PWN}</script><img src=x onerror="{PWN}">.png'
EVIL_ROW = 3
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]

Browser = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if path is None:
        if os.environ.get("BATCHER_SKIP_BROWSER") == "1":
            pytest.skip("BATCHER_SKIP_BROWSER=1")
        pytest.fail(
            "chromium is not installed: the HTML report cannot be checked in a browser. "
            "Install it (apt-get install -y chromium, as scripts/test does) or set "
            "BATCHER_SKIP_BROWSER=1 to skip these tests knowingly."
        )
    return path


@pytest.fixture
def browse(chromium: str, tmp_path: Path) -> Browser:
    def run(page: Path, fragment: str = "", *extra: str) -> subprocess.CompletedProcess[str]:
        profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra]
        cmd.append(page.as_uri() + fragment)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)

    return run


def _issues(n: int) -> list[dict[str, Any]]:
    return [
        {
            "ruleCode": RULES[(n + k) % len(RULES)],
            "severity": SEVERITIES[(n * 3 + k) % 4],
            "summary": f"Finding {k} of asset {n}" + (f" <b>{PWN}</b>" if n == EVIL_ROW else ""),
            "severityReasoningHeadline": "Claim likely to mislead",
            "severityReasoning": f"Reasoning {k} of asset {n}: the claim is specific and wide",
            "precedents": [
                {
                    "url": f"https://www.asa.org.uk/rulings/r-{n}-{k}.html",
                    "title": f"Ruling {k} for asset {n}",
                    "decision": "Upheld",
                    "date": "2024-01-01",
                },
                {"url": "javascript:" + PWN, "title": f"Bad link {k} of {n}", "decision": ""},
            ],
        }
        for k in range(n % 5)
    ]


def _line(n: int) -> ReportLine:
    status = "error" if n % 19 == 0 else "failed" if n % 13 == 0 else "complete"
    issues = _issues(n) if status == "complete" else []
    error = None
    if status == "error":
        error = ErrorInfo(stage="preflight", code="file_not_found", message=f"gone: {n} <i>x</i>")
    elif status == "failed":
        error = ErrorInfo(stage="result", code="ContentProcessingError", message="damaged")
    return ReportLine(
        row=n,
        path=EVIL_PATH if n == EVIL_ROW else f"media/campaign-{n % 7}/asset-{n:05d}.png",
        bytes=None if status == "error" else 10_000 + n,
        upload_method=None if status == "error" else "direct" if n % 3 else "presigned",
        submission_id=None if status == "error" else f"5b0c1e3a-0000-4000-8000-{n // 50:012d}",
        asset_id=None if status == "error" else f"a1b2c3d4-0000-4000-8000-{n:012d}",
        status=status,
        issue_count=len(issues) if status == "complete" else None,
        issues=issues,
        error=error,
    )


def _page(tmp_path: Path, rows: int) -> tuple[Path, list[ReportLine]]:
    lines = [_line(n) for n in range(1, rows + 1)]
    report = tmp_path / "run.report.jsonl"
    report.write_text("".join(x.to_json() + "\n" for x in lines), encoding="utf-8")
    page = tmp_path / "report.html"
    assert report_main([str(report), "--html", str(page), "--json"]) == 0
    return page, lines


def _console(stderr: str) -> list[str]:
    return [x for x in stderr.splitlines() if ":CONSOLE" in x or "Uncaught" in x]


def _count_text(dom: str) -> str:
    match = re.search(r'id="count"[^>]*>([^<]*)<', dom)
    assert match, "the row count was not rendered"
    return match.group(1)


def test_script_renders_table_and_charts_without_console_errors(
    tmp_path: Path, browse: Browser
) -> None:
    page, _ = _page(tmp_path, 200)
    result = browse(page, f"#open={EVIL_ROW}", "--dump-dom")
    assert _console(result.stderr) == []
    dom = result.stdout
    assert 'data-ready="200"' in dom
    assert dom.count('<tr class="main') == 100  # one page
    assert dom.count('<tr class="detail"') == 1
    assert _count_text(dom) == "Showing 1–100 of 200 rows"
    for colour in ("#c62828", "#ef6c00", "#f2b705", "#8a939b"):
        assert f'fill="{colour}"' in dom
    assert "CAP_8.4" in dom


def test_findings_show_reasoning_and_precedents_and_files_link_relative_to_the_page(
    tmp_path: Path, browse: Browser
) -> None:
    page, lines = _page(tmp_path, 200)
    row = 4  # complete, with four findings
    assert len(lines[row - 1].issues) == 4
    dom = browse(page, f"#open={row}", "--dump-dom").stdout
    assert 'data-ready="200"' in dom
    assert "<th>Why this severity</th>" in dom and "<th>Precedents</th>" in dom
    for k in range(4):
        assert f"Reasoning {k} of asset {row}: the claim is specific and wide" in dom
        assert f'href="https://www.asa.org.uk/rulings/r-{row}-{k}.html"' in dom
        assert f"Ruling {k} for asset {row}" in dom
        assert f"Bad link {k} of {row}" in dom  # shown, but not as a link
    assert "Upheld, 2024-01-01" in dom
    assert 'href="javascript:' not in dom
    # Files are linked relative to the page (the page sits beside media/ here).
    assert f'href="./media/campaign-{row % 7}/asset-{row:05d}.png"' in dom
    assert 'href="file:' not in dom
    # Searching finds a finding by its reasoning.
    dom = browse(page, "#q=reasoning%201%20of%20asset%2042", "--dump-dom").stdout
    assert dom.count('<tr class="main') == 1


def test_cjk_names_are_shown_and_linked_and_the_fonts_name_cjk_families(
    tmp_path: Path, browse: Browser
) -> None:
    assert '"Noto Sans CJK SC"' in CSS and '"Microsoft YaHei"' in CSS and '"PingFang SC"' in CSS
    report = tmp_path / "cjk.report.jsonl"
    line = ReportLine(row=1, path="media/春季促销-海报.png", status="complete", issues=[])
    report.write_text(line.to_json() + "\n", encoding="utf-8")
    page = tmp_path / "cjk.html"
    assert report_main([str(report), "--html", str(page), "--json"]) == 0
    dom = browse(page, "", "--dump-dom").stdout
    assert "春季促销-海报.png" in dom
    assert 'href="./media/%E6%98%A5' in dom


def test_paths_and_messages_cannot_inject_markup(tmp_path: Path, browse: Browser) -> None:
    page, _ = _page(tmp_path, 200)
    dom = browse(page, f"#open={EVIL_ROW}", "--dump-dom").stdout
    assert 'data-ready="200"' in dom
    assert "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0]
    assert "&lt;script&gt;document.body.setAttribute" in dom  # shown as text
    assert "<img src=" not in dom and "<b>" not in dom and "<i>x" not in dom


def test_filters_in_the_url_fragment_select_rows(tmp_path: Path, browse: Browser) -> None:
    page, lines = _page(tmp_path, 200)
    with_rule = sum(1 for x in lines if any(i["ruleCode"] == "CAP_8.4" for i in x.issues))
    dom = browse(page, "#rule=CAP_8.4", "--dump-dom").stdout
    assert (
        _count_text(dom)
        == f"Showing 1–{min(with_rule, 100)} of {with_rule} matching rows (200 in all)"
    )
    failed = sum(1 for x in lines if x.status == "failed")
    dom = browse(page, "#status=failed&sort=-issues", "--dump-dom").stdout
    assert dom.count('<tr class="main') == failed
    dom = browse(page, "#q=asset-00042", "--dump-dom").stdout
    assert dom.count('<tr class="main') == 1


def test_ten_thousand_rows_filter_in_under_100_ms(tmp_path: Path, browse: Browser) -> None:
    page, _ = _page(tmp_path, 10_000)
    result = browse(page, "#q=campaign-3", "--dump-dom")
    assert _console(result.stderr) == []
    assert 'data-ready="10000"' in result.stdout
    match = re.search(r'data-filter-ms="([0-9.]+)"', result.stdout)
    assert match, "the page did not record its filter time"
    assert float(match.group(1)) < 100


def test_page_paints_a_full_screenshot(tmp_path: Path, browse: Browser) -> None:
    page, _ = _page(tmp_path, 200)
    shot = tmp_path / "page.png"
    browse(page, "", f"--screenshot={shot}", "--window-size=1400,1000")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert (width, height) == (1400, 1000)
    # A blank or unstyled page compresses to a few kB; the real one has charts and a table.
    assert len(data) > 40_000
