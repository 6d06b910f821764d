"""Benchmark harness: batcher side by side with AzCopy, rclone, the Azure SDK and bare aiohttp.

Run ``python benchmarks/run.py --help``; see ``benchmarks/README.md``.
"""
