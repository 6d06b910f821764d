"""``batcher retry REPORT [run options]`` as a run: the main command's arguments aimed at a
side report, and afterwards the side report merged into REPORT (which rows to retry is
``retry_cmd.plan_retry``'s decision)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from batcher.cli.layers import parse_main
from batcher.cli.retry_cmd import (
    merge_reports,
    plan_retry,
    recorded_manifest,
    remove_journal,
    retry_parser,
)
from batcher.errors import UsageError
from batcher.pipeline import journal_path_for
from batcher.reporting.filters import ReportFilter
from batcher.reporting.load import open_report
from batcher.reporting.summary import SummaryBuilder
from batcher.summary import RunSummary


@dataclass
class Retry:
    report: Path
    """The report being retried; its rows' new lines are merged into it."""
    rows: frozenset[int]
    note: str | None
    """Which rows were left as they are, and why."""


def retry_args(argv: list[str]) -> tuple[argparse.Namespace, Retry]:
    """``batcher retry REPORT [--manifest M] [run options]`` → the main command's arguments,
    writing to a side report that is merged into REPORT afterwards."""
    known, rest = retry_parser().parse_known_args(argv)
    report: Path = known.report
    journal = known.journal or journal_path_for(report)
    manifest = known.manifest or recorded_manifest(journal)
    if manifest is None:
        raise UsageError(
            f"cannot tell which manifest {report} came from (no journal at {journal}); "
            "give it with --manifest"
        )
    plan = plan_retry(report, manifest)
    side = report.with_name(report.name + ".retry.jsonl")
    args = parse_main([str(manifest), *rest])
    args.report = side
    args.journal = side.with_name(side.name + ".journal.sqlite")
    return args, Retry(report, plan.rows, plan.describe_kept())


def finish_retry(
    retry: Retry, summary: RunSummary, args: argparse.Namespace, err: TextIO
) -> RunSummary:
    """Merge the retried rows into the report, tidy the side files, and sum up the whole
    report (headed by its own name, not the side file's)."""
    merge_reports(retry.report, args.report)
    args.report.unlink()
    kept_journal = not remove_journal(args.journal)
    err.write(f"merged {summary.rows} retried rows into {retry.report}\n")
    if kept_journal:
        err.write(f"kept {args.journal}: the next `batcher retry` resumes from it\n")
    builder = SummaryBuilder()
    for item in open_report(retry.report):
        builder.add(item.line)
    whole = builder.build(retry.report, ReportFilter())
    return RunSummary(
        whole, summary.counters, summary.throttled, summary.wall_seconds, summary.not_sent
    )
