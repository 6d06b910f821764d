"""``python -m batcher`` → the CLI."""

from __future__ import annotations

import sys

from batcher.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
