"""Subcommands beyond the upload itself: ``batcher report`` and ``batcher manifest``.

Each module exposes ``build_parser()`` and ``main(argv) -> int``; ``batcher.cli`` dispatches
to them. They are thin clients of ``batcher.reporting`` and ``batcher.scan``.
"""
