"""Parsed options → ``Settings`` (and the few values the CLI reads itself: the log level,
the version, the API key). The options themselves are declared in ``options.py``."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from batcher.blob.bandwidth import mb_per_second
from batcher.cli.output_options import DEFAULT_LISTEN_HOST
from batcher.config import DEFAULT_BASE_URL, MiB, PollSettings, Settings, WebhookSettings
from batcher.errors import UsageError
from batcher.logs import LEVELS
from batcher.pacing import parse_rate_caps
from batcher.scale.shard import Shard


def _p(name: str) -> Any:
    """A polling setting's default, defined once in ``PollSettings``."""
    return PollSettings.model_fields[name].get_default(call_default_factory=True)


def log_level(args: argparse.Namespace) -> int:
    """-v and -q are shorthands that win over --log-level."""
    if args.verbose:
        return logging.DEBUG
    if args.quiet:
        return logging.ERROR
    return LEVELS[args.log_level or "INFO"]


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT`` or ``:PORT`` (loopback)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--webhook-listen must be HOST:PORT, got {text!r}")
    host = host.removeprefix("[").removesuffix("]") or DEFAULT_LISTEN_HOST
    return host, int(port)


def webhooks_from(args: argparse.Namespace) -> WebhookSettings | None:
    tls = (args.webhook_tls_cert, args.webhook_tls_key)
    if not args.webhook_url:
        if any(tls):
            raise UsageError("--webhook-tls-cert/--webhook-tls-key need --webhook-url")
        return None
    host, port = parse_listen(str(args.webhook_listen))
    return WebhookSettings(
        url=args.webhook_url,
        listen_host=host,
        listen_port=port,
        tls_cert=Path(tls[0]) if tls[0] else None,
        tls_key=Path(tls[1]) if tls[1] else None,
    )


def api_key_from(args: argparse.Namespace) -> SecretStr | None:
    if args.api_key_file:
        try:
            text = Path(args.api_key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"cannot read --api-key-file: {exc.strerror}") from None
        if not text:
            raise UsageError("--api-key-file is empty")
        return SecretStr(text)
    key = os.environ.get("MEDIAMAGIC_API_KEY", "").strip()
    return SecretStr(key) if key else None


def _bwlimit(value: object) -> float | None:
    try:
        return mb_per_second(None if value is None else float(str(value)))
    except ValueError:
        raise UsageError(f"--bwlimit must be a number of MB/s >= 0, not {value!r}") from None


def settings_from(args: argparse.Namespace, **override: Any) -> Settings:
    poll = PollSettings(
        workers=int(args.poll_workers),
        initial=float(args.poll_interval) if args.poll_interval is not None else _p("initial"),
        max_interval=float(args.poll_max_interval),
        deadline=float(args.poll_deadline),
        asset_retries=int(args.asset_retries),
    )
    values: dict[str, Any] = dict(
        base_url=args.base_url or os.environ.get("MEDIAMAGIC_BASE_URL") or DEFAULT_BASE_URL,
        api_key=api_key_from(args),
        report_path=Path(args.report) if args.report else None,
        upload_workers=int(args.upload_workers),
        block_size=int(args.block_size) * MiB,
        block_concurrency=int(args.block_concurrency),
        memory_budget=int(args.memory_budget) * MiB,
        adaptive_concurrency=not bool(args.fixed_concurrency),
        bwlimit=_bwlimit(args.bwlimit),
        direct_max_bytes=int(args.direct_max_bytes),
        batch_size=int(args.batch_size),
        batch_linger=float(args.batch_linger),
        request_timeout=float(args.request_timeout),
        retry_attempts=int(args.retries),
        max_throttle_wait=float(args.max_throttle_wait),
        max_rate=parse_rate_caps(args.max_rate),
        max_outage=float(args.max_outage),
        rerun=args.rerun,
        on_ambiguous_create=args.on_ambiguous_create,
        manifest_encoding=str(args.manifest_encoding),
        shard=Shard.parse(args.shard) if args.shard else None,
        journal_path=Path(args.journal) if args.journal else None,
        fresh=bool(args.fresh),
        incremental=bool(args.incremental),
        key_column=args.key or None,
        checksum=bool(args.checksum),
        max_age_days=None if args.max_age is None else float(args.max_age),
        refresh_issues=bool(args.refresh_issues),
        shutdown_grace=float(args.shutdown_grace),
        simulation_delay=None if args.simulation_delay is None else int(args.simulation_delay),
        poll=poll,
        webhooks=webhooks_from(args),
    )
    values.update(override)
    return Settings(**values)
