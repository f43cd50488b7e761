"""What the benchmarks that drive the platform share: a fresh PostgreSQL database with the
project's schema, placeholder images to study, a free port, and a server process that is
waited for until it answers. Imported by the scripts beside it, after they have put the
repository root on sys.path."""

import os
import secrets
import socket
import subprocess
import time
from typing import Callable, Optional, Union

import requests


def fresh_database(db_url: str) -> None:
    """Drop and create the database `db_url` names, point Django at it and migrate it."""
    import psycopg2

    admin = psycopg2.connect(db_url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    name = db_url.rsplit("/", 1)[1]
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ratings_site.settings")
    # Settings refuse the development key with DEBUG off: a throwaway key per run (servers the
    # bench starts inherit it).
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def create_images(n: int, metadata: Optional[Callable[[int], dict]] = None) -> None:
    """n image rows of the "stylegan" source (no files behind them: the benchmarks rate ids)."""
    from ratings_site.catalog.models import Image, Source

    source = Source.objects.get(slug="stylegan")
    Image.objects.bulk_create(
        Image(file=f"images/bench/{i}.png", sha256=f"{i:064x}", source=source, original_name=f"{i}.png",
              width=128, height=128, metadata=metadata(i) if metadata else {})
        for i in range(n)
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(proc: subprocess.Popen, url: str, seconds: float = 60,
                 failure: Union[str, Callable[[], str]] = "gunicorn did not start") -> subprocess.Popen:
    """`proc` once `url` answers with a success; killed, and RuntimeError(failure), when it has
    not within `seconds` (`failure` may be a callable, read only then: a log's tail)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(failure() if callable(failure) else failure)
