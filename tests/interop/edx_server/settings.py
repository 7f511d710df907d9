"""Django settings of the test server; everything variable comes from ``EDX_TEST_*``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_DIR = Path(os.environ["EDX_TEST_DIR"])
_URL = os.environ["EDX_TEST_URL"]

SECRET_KEY = secrets.token_urlsafe(32)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "submissions",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "tests.interop.edx_server.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(_DIR / "edx.sqlite3"),
        # sqlite has no SELECT ... FOR UPDATE SKIP LOCKED; IMMEDIATE transactions give the
        # same guarantee the production MySQL one does: one puller per submission.
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
    }
}
EDX_SUBMISSIONS = {
    "MEDIA": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(_DIR / "media"), "base_url": f"{_URL}/media/"},
    }
}
MEDIA_ROOT = str(_DIR / "media")
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # test users: fast logins
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"file": {"class": "logging.FileHandler", "filename": str(_DIR / "server.log")}},
    "root": {"handlers": ["file"], "level": "INFO"},
}
