"""A submission's stored files, read the same way from either flavour's store.

:class:`FileStore` is what both stores implement for it
(:class:`~ml_service.sandbox.queue_store.QueueStore` for openedx/xqueue,
:class:`~ml_service.sandbox.edx_store.EdxStore` for edx-submissions): the folder the files
are kept in, and a submission's files as paths under it. The media route and
:meth:`Sandbox.media_urls <ml_service.sandbox.server.Sandbox.media_urls>` ask whichever store
the sandbox runs (:attr:`SandboxState.submissions <ml_service.sandbox.state.SandboxState.submissions>`),
never the other one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

__all__ = ["FileStore"]


class FileStore(Protocol):
    """What the media route and the platform's file URLs need of a submission store."""

    media_root: Path  # every stored file is under it, as ``<queue>/<name>``

    def file_keys(self, submission_id: int) -> dict[str, str]:
        """A submission's files: filename -> path under :attr:`media_root` (empty if unknown)."""
        ...
