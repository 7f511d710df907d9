"""A submission's stored files, saved and read the same way by either flavour's store.

:func:`save_upload` writes one uploaded file under the media root (both stores call it; only
the file's name differs: xqueue's MD5 of header and filename, edx-submissions' ``uuid4``).
:class:`FileStore` is what both stores implement for reading them
(:class:`~ml_service.sandbox.queue_store.QueueStore` for openedx/xqueue,
:class:`~ml_service.sandbox.edx_store.EdxStore` for edx-submissions): the folder the files
are kept in, and a submission's files as paths under it. The media route and
:meth:`Sandbox.media_urls <ml_service.sandbox.server.Sandbox.media_urls>` ask whichever store
the sandbox runs (:attr:`SandboxState.submissions <ml_service.sandbox.state.SandboxState.submissions>`),
never the other one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Protocol

__all__ = ["FileStore", "save_upload"]


class FileStore(Protocol):
    """What the media route and the platform's file URLs need of a submission store."""

    media_root: Path  # every stored file is under it, as ``<queue>/<name>``

    def file_keys(self, submission_id: int) -> dict[str, str]:
        """A submission's files: filename -> path under :attr:`media_root` (empty if unknown)."""
        ...


def save_upload(media_root: Path, queue: str, name: str, stream: IO[bytes]) -> str:
    """Write ``stream`` to ``<media_root>/<queue>/<name>``; its path under the media root.

    Written to a dot-file first (the media route serves no dot-file) and renamed into place,
    so no one ever fetches half a file."""
    folder = Path(media_root) / queue
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(stream, out)
    os.replace(tmp, folder / name)
    return f"{queue}/{name}"
