"""Shared fixtures. Each fixture module has one owner; this file only registers them."""

pytest_plugins = [
    "tests.fixtures.azurite",
    "tests.fixtures.sandbox",
]
