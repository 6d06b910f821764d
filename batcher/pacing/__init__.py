"""Request pacing per API rate-limit bucket: learn each bucket's sustainable rate from the
service's own 429s, honour every ``Retry-After``, and let requests out at the learned rate.

``RequestGate`` is the interface the API client needs (a shared gate across machines may
implement it too); ``Pacer`` is the in-process one.
"""

from batcher.pacing.bucket import BucketPacer, BucketStats, Learned, PacingPolicy
from batcher.pacing.gate import BUCKETS, DEFAULT_RETRY_AFTER, Bucket, RequestGate
from batcher.pacing.pacer import Pacer, parse_rate_caps

__all__ = [
    "BUCKETS",
    "DEFAULT_RETRY_AFTER",
    "Bucket",
    "BucketPacer",
    "BucketStats",
    "Learned",
    "Pacer",
    "PacingPolicy",
    "RequestGate",
    "parse_rate_caps",
]
