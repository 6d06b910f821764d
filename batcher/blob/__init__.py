"""The Azure Blob engine: one local file to a SAS URL, AzCopy-style (blocks in parallel under
one memory budget, transactional MD5, SAS refresh, block-level resume). Its seam is
``transport.BlobTransport``; ``testing.FakeBlobService`` is the in-memory fake."""
