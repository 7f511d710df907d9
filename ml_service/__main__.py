"""Entry point for ``python -m ml_service``."""

from __future__ import annotations

import sys

from ml_service.cli import main

if __name__ == "__main__":
    sys.exit(main())
