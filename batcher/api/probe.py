"""Pre-flight connectivity check: before the first upload, prove that the base URL answers
as the MediaMagic API and that it accepts the key, and fail in seconds when it does not.

The probe is one E5 (``GET /submissions/<random UUID>``) in the ``submission_read`` bucket:
it costs no submission and no upload, and every answer means something:

* 404 with a JSON body: the service is there and the key was accepted (the submission
  does not exist, as intended). Also 200 (it cannot, but would prove the same).
* 401 / 402: the key is refused / the plan lacks the API: fatal, exit 3.
* 429: the service is there and knows the key (limits are per key); the gate learned from it.
* 5xx: the service is there but unwell; the run goes on and its own retries decide.
* no connection, or an answer that is not the API's (HTML, another status): a usage error
  naming the URL and what to check, exit 2. Connection failures are tried a few times over
  a few seconds first, so a blip does not stop a run.
"""

from __future__ import annotations

import json
import uuid
from typing import Protocol

from batcher.api.errors_map import error_for_status
from batcher.api.transport import ApiResponse
from batcher.clock import Clock
from batcher.errors import FatalApiError, TransportError, UsageError

PROBE_ATTEMPTS = 3
PROBE_WAITS = (0.5, 1.5)


class Probeable(Protocol):
    """What the probe needs: ``MediaMagicClient.probe``."""

    async def probe(self, submission_id: str) -> ApiResponse: ...


async def check_service(client: Probeable, base_url: str, clock: Clock) -> None:
    """Raise ``UsageError`` (unreachable / not the API) or ``FatalApiError`` (key refused)."""
    last: TransportError | None = None
    for attempt in range(PROBE_ATTEMPTS):
        try:
            response = await client.probe(str(uuid.uuid4()))
        except TransportError as exc:
            last = exc
            if attempt < len(PROBE_WAITS):
                await clock.sleep(PROBE_WAITS[attempt])
            continue
        _judge(response, base_url)
        return
    assert last is not None
    raise UsageError(
        f"cannot reach the MediaMagic API at {base_url}: {last.message}. Check --base-url "
        "(or MEDIAMAGIC_BASE_URL), that the host and port are right, and the network or "
        "proxy between; nothing was uploaded"
    )


def _judge(response: ApiResponse, base_url: str) -> None:
    status = response.status
    if status in (401, 402):
        error = error_for_status(status, response.text, dict(response.headers))
        assert isinstance(error, FatalApiError)
        raise error
    if status in (404, 200) and _is_json(response.text):
        return
    if status == 429 or status >= 500:
        return
    raise UsageError(
        f"{base_url} answered HTTP {status} to a test request, which the MediaMagic API "
        "would not: check --base-url (or MEDIAMAGIC_BASE_URL); it should be the API's base "
        "URL without the /api/integrations path; nothing was uploaded"
    )


def _is_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False
