"""Client programs the runner measures, each in its own process; each prints one JSON line."""
