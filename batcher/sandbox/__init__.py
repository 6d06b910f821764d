"""A local emulator of the MediaMagic Integrations API and of the Azure Blob endpoint behind
its SAS upload URLs. It implements the documented API independently of the client code, so
it can catch client bugs; it is strict where the docs are, and documents its own choices
where they are silent.

    async with running_sandbox(SandboxConfig(processing_delay=0.05)) as sb:
        ...  # talk HTTP to sb.base_url with key DEFAULT_TEST_KEY; inspect sb.state
"""

from __future__ import annotations

from batcher.sandbox.app import Sandbox, running_sandbox
from batcher.sandbox.config import DEFAULT_TEST_KEY, FaultSpec, RateLimit, SandboxConfig
from batcher.sandbox.findings import findings_for
from batcher.sandbox.state import SandboxState

__all__ = [
    "DEFAULT_TEST_KEY",
    "FaultSpec",
    "RateLimit",
    "Sandbox",
    "SandboxConfig",
    "SandboxState",
    "findings_for",
    "running_sandbox",
]
