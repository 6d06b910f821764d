"""Scaling one manifest out over several processes or machines: shards (``shard``), the merge
of their reports (``merge``) and rate-limit gates shared between them (``gates``, ``pacing``).
Ray is optional: only ``ray_actor`` and ``ray_run`` import it."""
