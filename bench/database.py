"""What the benchmarks that drive the platform share: a fresh PostgreSQL database with the
project's schema, and placeholder images to study. Imported by the scripts beside it, after
they have put the repository root on sys.path."""

import os
from typing import Callable, Optional


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
