"""``batcher merge REPORT... -o OUT``: one report from shard reports, with the summary and
exit code of the whole run (0 when every row is complete, 1 otherwise, 2 when refused)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from batcher.cli.retry_cmd import recorded_manifest
from batcher.errors import UsageError
from batcher.pipeline import journal_path_for
from batcher.redact import redact
from batcher.scale.merge import MergeRefused, merge
from batcher.summary import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="batcher merge",
        description="Merge the reports of a sharded run (--shard K/N) into one report, every "
        "row once and in row order. Refuses reports that overlap (a row twice) or leave a gap "
        "(a row in none). Exit 0 when every row is complete, 1 when some are not, 2 if refused.",
    )
    p.add_argument("reports", type=Path, nargs="+", help="the shards' .report.jsonl files")
    p.add_argument("-o", "--report", type=Path, required=True, help="the merged report to write")
    p.add_argument(
        "--manifest",
        type=Path,
        help="the manifest the shards ran (default: the one their journals recorded); with it "
        "missing rows past the last reported one are found too, and paths are checked",
    )
    p.add_argument("--summary-json", type=Path, help="also write the summary as JSON here")
    return p


def manifest_of(reports: Sequence[Path]) -> Path | None:
    """The manifest every report's journal recorded, if they all did and agree."""
    found = {recorded_manifest(journal_path_for(r)) for r in reports}
    if None in found or len(found) != 1:
        if len(found - {None}) > 1:
            names = ", ".join(sorted(str(m) for m in found if m is not None))
            raise MergeRefused(f"the reports' journals name different manifests: {names}")
        return None
    (manifest,) = found
    return manifest if manifest is not None and manifest.is_file() else None


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        manifest = args.manifest or manifest_of(args.reports)
        if args.manifest is not None and not args.manifest.is_file():
            raise UsageError(f"manifest not found: {args.manifest}")
        summary = merge(args.reports, args.report, manifest)
    except UsageError as exc:
        print(f"Error: {redact(exc.message)}", file=sys.stderr)
        return EXIT_USAGE
    checked = f", checked against {manifest}" if manifest else ""
    print(f"merged {len(args.reports)} reports into {args.report}{checked}", file=sys.stderr)
    print(summary.render_text(), file=sys.stderr)
    if args.summary_json:
        try:
            args.summary_json.write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
        except OSError as exc:
            print(f"Error: cannot write --summary-json: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
    complete = summary.by_status.get("complete", 0)
    return EXIT_OK if complete == summary.rows else EXIT_SOME_FAILED
