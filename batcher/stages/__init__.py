"""The stages, one worker loop each, joined by ``pipeline.py``: ``read`` (pre-flight and
resume routing; ``carry`` decides a nightly sweep's rows), ``upload``, ``submit`` (batching,
E4, the ambiguous create; ``resubmit``), ``poll`` (E5/E6/E9 on ``schedule``), ``report`` (the
single writer)."""
