"""``batcher report REPORT.jsonl``: the summary of a report after the fact, filtered rows
as JSON Lines for piping, or a one-file HTML page for a compliance team.

stdout carries exactly one kind of output (text, one JSON object, or JSON Lines) so it can be
piped; warnings and "wrote …" notes go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from batcher.errors import ReportUnreadable
from batcher.reporting.filters import SEVERITY_ORDER, STATUSES, ReportFilter
from batcher.reporting.html import HtmlRows, render_html
from batcher.reporting.load import open_report
from batcher.reporting.summary import SummaryBuilder
from batcher.summary import EXIT_OK, EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="batcher report",
        description="Summarise a batcher report (JSON Lines) after the fact: outcomes, findings "
        "by severity, frequent rule codes, errors, bytes. Filters apply to every output; "
        "values of one filter are alternatives, different filters must all match.",
    )
    p.add_argument("report", type=Path, help="the .report.jsonl file a run wrote")
    p.add_argument(
        "--status",
        action="append",
        default=[],
        choices=STATUSES,
        help="only rows with this status (repeatable)",
    )
    p.add_argument(
        "--severity",
        action="append",
        default=[],
        type=str.upper,
        choices=SEVERITY_ORDER,
        help="only rows with at least one finding of this severity (repeatable)",
    )
    p.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="CODE",
        help="only rows with a finding of this rule code, e.g. CAP_8.4 (repeatable)",
    )
    p.add_argument(
        "--top", type=int, default=10, metavar="N", help="rule codes listed (default 10)"
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument(
        "--json", action="store_true", help="print the summary as one JSON object on stdout"
    )
    out.add_argument(
        "--lines",
        action="store_true",
        help="print the matching report lines unchanged, as JSON Lines, instead of a summary",
    )
    p.add_argument(
        "--html",
        type=Path,
        metavar="OUT.html",
        help="also write a self-contained HTML page (overview, charts, searchable table)",
    )
    return p


def _write_html(path: Path, page: str) -> None:
    # Written beside the target and renamed, so a browser never sees half a page.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    reader = open_report(args.report)
    filters = ReportFilter.of(args.status, args.severity, args.rule)
    builder = SummaryBuilder(top=max(0, args.top))
    html_rows = HtmlRows(base=args.report.resolve().parent) if args.html else None
    for loaded in reader:
        if not filters.matches(loaded.line):
            continue
        builder.add(loaded.line)
        if html_rows is not None:
            html_rows.add(loaded.line)
        if args.lines:
            out.write(loaded.raw + "\n")
    if reader.lines_read == 0 and reader.unreadable:
        raise ReportUnreadable(
            f"{args.report} is not a batcher report: {reader.describe_problems()}"
        )
    problems = reader.describe_problems()
    summary = builder.build(
        args.report, filters, unreadable_lines=reader.unreadable, unreadable_detail=problems
    )
    if args.json:
        out.write(json.dumps(summary.as_dict(), ensure_ascii=False) + "\n")
    elif not args.lines:
        out.write(summary.render_text() + "\n")
    if problems and (args.json or args.lines):
        err.write(f"warning: {args.report}: {problems}\n")
    if html_rows is not None:
        page = render_html(summary, html_rows, generated=datetime.now(UTC))
        try:
            _write_html(args.html, page)
        except OSError as exc:
            err.write(f"Error: cannot write {args.html}: {exc.strerror}\n")
            return EXIT_USAGE
        err.write(f"wrote {args.html} ({summary.rows:,} rows)\n")
    return EXIT_OK


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        return _run(args, sys.stdout, sys.stderr)
    except ReportUnreadable as exc:
        sys.stderr.write(f"Error: {exc.message}\n")
        return EXIT_USAGE
    except BrokenPipeError:
        # `batcher report r.jsonl --lines | head`: the reader has all it wanted.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
