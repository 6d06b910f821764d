"""Shared fixtures. Each fixture module has one owner; this file registers them and holds the
one fixture every async test shares."""

import pytest

pytest_plugins = [
    "tests.fixtures.azurite",
    "tests.fixtures.sandbox",
]


@pytest.fixture
def anyio_backend() -> str:
    """asyncio: the backend batcher runs on (aiohttp needs it)."""
    return "asyncio"
