"""E4 create submission, E5 status, E6 asset detail, E7 issues, E9 retry."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from batcher.sandbox.bodies import json_body, parse_model, path_uuid, principal
from batcher.sandbox.context import AppContext, context
from batcher.sandbox.errors import ApiError, from_pydantic
from batcher.sandbox.processing import asset_detail, asset_view, create_body, submission_status
from batcher.sandbox.state import AssetRecord, Attempt, SubmissionRecord
from batcher.sandbox.submit import build_assets

_DELAY = TypeAdapter(Annotated[int, Field(ge=0, le=30)])


class AssetIn(BaseModel):
    # Only blobPath and previousSubmissionId; filename/contentType here are a client bug.
    model_config = ConfigDict(extra="forbid")

    blobPath: str
    previousSubmissionId: uuid.UUID | None = None


class CreateSubmission(BaseModel):
    # Unknown top-level fields are refused too (the docs list every field): strict on purpose.
    model_config = ConfigDict(extra="forbid")

    assets: list[AssetIn] = Field(min_length=1)
    sidekickIds: list[uuid.UUID] | None = None
    metadata: dict[str, Any] | None = None


def _simulation_delay(request: web.Request) -> int | None:
    raw = request.query.get("simulationDelaySeconds")
    if raw is None:
        return None
    try:
        return _DELAY.validate_python(raw, strict=False)
    except ValidationError as exc:
        error = from_pydantic(exc, "query")
        for item in error.body["detail"]:
            item["loc"] = ["query", "simulationDelaySeconds"]
        raise error from None


async def create_submission(request: web.Request) -> web.Response:
    ctx = context(request)
    who = principal(request)
    delay = _simulation_delay(request)
    body = parse_model(CreateSubmission, await json_body(request))
    if delay is not None and not who.is_test:
        raise ApiError(400, "simulationDelaySeconds is only available with sandbox (sk_test_) keys")
    limit = ctx.config.max_assets_per_submission
    if limit is not None and len(body.assets) > limit:
        raise ApiError(
            422,
            [
                {
                    "loc": ["body", "assets"],
                    "msg": f"List should have at most {limit} items after validation",
                    "type": "too_long",
                    "input": None,
                }
            ],
        )
    now = ctx.clock()
    submission_id = str(uuid.uuid4())
    duration = ctx.config.processing_delay + (delay or 0)
    workflow_id = f"asset-processing-{uuid.uuid4()}"
    requested = [
        (a.blobPath, str(a.previousSubmissionId) if a.previousSubmissionId else None)
        for a in body.assets
    ]
    assets = await build_assets(ctx, who.workspace_id, requested)
    # Everything below is synchronous: the checks build_assets made still hold when we commit.
    for asset in assets:
        asset.attempts.append(Attempt(now, duration, workflow_id))
        ctx.state.submitted_blob_paths.add(asset.blob_path)
        ctx.state.submitted_content_hashes[asset.content_sha256] += 1
        ctx.state.version_groups[asset.version_group_id] = asset.version_number
    record = SubmissionRecord(
        submission_id=submission_id,
        workspace_id=who.workspace_id,
        workflow_id=workflow_id,
        created_at=now,
        simulation_delay_seconds=delay or 0,
        assets=assets,
        sidekick_ids=[str(s) for s in body.sidekickIds or []],
        metadata=body.metadata,
    )
    ctx.state.submissions[submission_id] = record
    ctx.state.created_submissions += 1
    for asset in assets:
        ctx.webhooks.schedule(record, asset)
    await ctx.journal.submission(record)
    return web.json_response(create_body(record, "submitted", workflow_id), status=201)


def _submission(ctx: AppContext, request: web.Request) -> SubmissionRecord:
    submission_id = path_uuid(request, "submission_id")
    record = ctx.state.submissions.get(submission_id)
    # Another workspace's submission is indistinguishable from a missing one.
    if record is None or record.workspace_id != principal(request).workspace_id:
        raise ApiError(404, "Submission not found")
    return record


def _asset(ctx: AppContext, request: web.Request) -> tuple[SubmissionRecord, AssetRecord]:
    record = _submission(ctx, request)
    asset = record.asset(path_uuid(request, "asset_id"))
    if asset is None:
        raise ApiError(404, "Asset not found")
    return record, asset


async def get_submission(request: web.Request) -> web.Response:
    ctx = context(request)
    record = _submission(ctx, request)
    return web.json_response(
        submission_status(record, ctx.clock(), ctx.config.max_customer_retries)
    )


async def get_asset(request: web.Request) -> web.Response:
    ctx = context(request)
    record, asset = _asset(ctx, request)
    return web.json_response(asset_detail(record, asset, ctx.clock()))


async def get_issues(request: web.Request) -> web.Response:
    ctx = context(request)
    _, asset = _asset(ctx, request)
    view = asset_view(asset, ctx.clock())
    if view.status == "processing":
        raise ApiError(404, "Asset processing is not complete; issues are not available yet")
    if view.status == "failed":
        raise ApiError(404, "Asset processing failed; no issues are available")
    # The wrapper is not documented ("the flat enriched issue list"): we answer a bare array.
    return web.json_response(list(asset.issues))


async def retry_asset(request: web.Request) -> web.Response:
    ctx = context(request)
    record, asset = _asset(ctx, request)
    now = ctx.clock()
    view = asset_view(asset, now)
    if view.status == "processing" and asset.retry_count > 0:
        raise ApiError(409, "A retry is already in progress for this asset")
    if view.status != "failed":
        raise ApiError(409, "Asset is not in a failed state")
    if not view.retryable_error:
        raise ApiError(409, "Asset failed with a non-retryable error")
    if asset.retry_count >= ctx.config.max_customer_retries:
        raise ApiError(409, "Retry limit reached for this asset")
    workflow_id = f"asset-processing-{uuid.uuid4()}"
    attempt = Attempt(now, ctx.config.processing_delay, workflow_id)
    asset.attempts.append(attempt)
    ctx.webhooks.schedule(record, asset)
    await ctx.journal.retry(record.submission_id, asset.asset_id, attempt)
    return web.json_response(create_body(record, "processing", workflow_id), status=202)
