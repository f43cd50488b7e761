"""Production settings: the development secret key is refused when DEBUG is off, and
`manage.py check --deploy` finds nothing to warn about for a deployment over HTTPS."""
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV_KEY = "dev-only-insecure-key-change-me"


def manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "BEHIND_TLS", "SITE_URL"))}
    base["DATABASE_URL"] = "sqlite:///:memory:"
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True,
                          text=True, timeout=120)


def test_debug_off_refuses_to_start_without_a_real_secret_key():
    for key in (None, DEV_KEY, "short"):
        run = manage("check", **({"DJANGO_SECRET_KEY": key} if key else {}))
        assert run.returncode != 0 and "DJANGO_SECRET_KEY is unset or the development key" in run.stderr, run.stderr[-500:]
    assert manage("check", DJANGO_DEBUG="1").returncode == 0  # development may use the built-in key
    assert manage("check", DJANGO_SECRET_KEY=secrets.token_urlsafe(50)).returncode == 0


def test_check_deploy_is_clean_for_the_production_settings():
    run = manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
                 DJANGO_ALLOWED_HOSTS="ratings.example.org", SITE_URL="https://ratings.example.org", BEHIND_TLS_PROXY="1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "System check identified no issues" in run.stdout
