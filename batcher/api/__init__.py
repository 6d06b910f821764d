"""The MediaMagic API seam: ``client`` (one typed method per endpoint), ``protocol`` (what the
stages call), ``transport`` (the HTTP seam: aiohttp, or ``testing.FakeMediaMagic``),
``models`` (pydantic v2), ``errors_map`` (answers to errors), ``probe`` (the pre-run check)
and ``breaker`` (the API host's circuit breaker)."""
