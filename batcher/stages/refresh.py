"""``--refresh-issues``: a carried row's result fetched again (E6) before its line is written.

A carried line is the result as it was when reviewed; reviewers may since have resolved or
dismissed findings on the platform. With the option each carried ``complete`` row costs one
E6 (``submission_read`` bucket, paced like every other read) and its line takes the issues
and issue count the service gives now; everything else stays as reviewed, and
``reusedFrom.issuesRefreshedAt`` says when. A refresh that fails for the row alone (the
service answers an error, a timeout) keeps the line as reviewed with a note saying so: the
carried result is still the answer for those bytes. The history is not rewritten: each
sweep with the option asks again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from anyio.abc import ObjectReceiveStream, ObjectSendStream

from batcher.context import RunContext
from batcher.errors import RowError
from batcher.outcome import Note, ReportLine
from batcher.redact import redact

NOT_REFRESHED = "issues_not_refreshed"


def wants_refresh(line: ReportLine) -> bool:
    """Only a complete result has issues whose statuses can change."""
    return line.status == "complete" and bool(line.submission_id and line.asset_id)


async def refresh_worker(
    ctx: RunContext,
    lines: ObjectReceiveStream[ReportLine],
    report: ObjectSendStream[ReportLine],
) -> None:
    async with lines, report:
        async for line in lines:
            await report.send(await refreshed(ctx, line))


async def refreshed(ctx: RunContext, line: ReportLine) -> ReportLine:
    assert line.submission_id is not None and line.asset_id is not None
    try:
        result = await ctx.client.get_asset(line.submission_id, line.asset_id)
    except RowError as exc:  # fatal answers (a refused key) still stop the run
        note = Note(
            code=NOT_REFRESHED,
            message=f"issue statuses are as reviewed, not refreshed: {redact(exc.message)}",
        )
        line.notes = [*line.notes, note]
        return line
    line.issues = result.issues
    line.issue_count = result.issue_count if result.issue_count is not None else len(result.issues)
    when = datetime.fromtimestamp(ctx.clock.wall(), UTC).isoformat(timespec="seconds")
    line.reused_from = {**(line.reused_from or {}), "issuesRefreshedAt": when}
    return line
