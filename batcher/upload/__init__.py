"""The two ways a row's bytes reach the service: ``direct`` (E2, files up to the direct cap)
and ``presigned`` (E1 for a SAS URL, then the blob engine in ``batcher.blob``)."""
