"""``python -m tests.interop.edx_server --dir DIR [--user U --password P]``: serve until SIGTERM.

Binds 127.0.0.1 on an ephemeral port first (the media URLs need it), then sets Django up,
migrates a fresh sqlite database, creates the worker user in the ``xqueue`` group, prints
``{"url": ..., "db": ...}`` on one line and serves with a threaded WSGI server.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from werkzeug.serving import make_server


class _Later:
    """The WSGI app, set once Django is ready (the socket is bound before that)."""

    app: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.app(environ, start_response)


def _setup(folder: Path, url: str, user: str, password: str) -> Callable[..., Any]:
    os.environ.update(EDX_TEST_DIR=str(folder), EDX_TEST_URL=url,
                      DJANGO_SETTINGS_MODULE="tests.interop.edx_server.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.contrib.auth.models import Group, User
    from django.core.wsgi import get_wsgi_application

    worker = User.objects.create_user(user, password=password)
    worker.groups.add(Group.objects.get_or_create(name="xqueue")[0])
    User.objects.create_user("not-in-group", password=password)
    return get_wsgi_application()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.interop.edx_server")
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--user", default="ml_service")
    parser.add_argument("--password", default="ml_password")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    later = _Later()
    server = make_server("127.0.0.1", 0, later, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    later.app = _setup(args.dir.resolve(), url, args.user, args.password)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    print(json.dumps({"url": url, "db": str(args.dir.resolve() / "edx.sqlite3")}), flush=True)
    stop.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
