"""The rate-limit bucket names; pacing itself lives in ``batcher.pacing``.

``RateGates`` is the old name of ``Pacer``, kept so existing callers keep working."""

from batcher.pacing.gate import BUCKETS, DEFAULT_RETRY_AFTER, Bucket
from batcher.pacing.pacer import Pacer as RateGates

__all__ = ["BUCKETS", "DEFAULT_RETRY_AFTER", "Bucket", "RateGates"]
