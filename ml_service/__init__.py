"""ml-service: a pull-based worker that analyses proctored-exam recordings."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
