"""Everything about manifest rows before any network: reading the manifest, pre-flight
checks, the content sniff, the folder scanner, per-row bookkeeping and upload file names."""
