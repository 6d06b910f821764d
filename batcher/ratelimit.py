"""The rate-limit bucket names; pacing itself lives in ``batcher.pacing``.

The client sees only ``RequestGate`` (``batcher.pacing.gate``): ``Pacer`` is the one-process
implementation, ``RateGates`` its old name; a sharded run shares gates between processes
(``batcher.scale.gates``).
"""

from batcher.pacing.gate import BUCKETS, DEFAULT_RETRY_AFTER, Bucket, RequestGate
from batcher.pacing.pacer import Pacer as RateGates

RequestGates = RequestGate
"""The name ``batcher.scale`` uses."""

__all__ = ["BUCKETS", "DEFAULT_RETRY_AFTER", "Bucket", "RateGates", "RequestGate", "RequestGates"]
