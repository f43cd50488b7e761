"""The API as a script's author meets it: docs served by the site, tokens from the admin,
and the README's example loop run against a live server."""
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from rest_framework.authtoken.models import Token

from ratings_site.demo.raters import SimulatedRater, rater_run
from ratings_site.studies.models import Study

from .factories import png_bytes
from .test_browser import CHROMIUM, browser  # noqa: F401  (the module-scoped fixture)

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_swagger_ui_and_redoc_render_from_the_sites_own_assets(live_server, browser):
    page = browser.new_page()
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)  # operations rendered from the schema
    assert "/api/studies/from-images/" in page.content()
    page.goto(f"{live_server.url}/api/redoc/")
    page.wait_for_selector("redoc, [role=navigation], .menu-content", timeout=20_000)
    assert outside == [], outside  # nothing from a CDN
    page.close()


@pytest.mark.django_db
def test_a_researcher_creates_and_revokes_their_own_token_in_the_admin(client, researcher, django_user_model):
    other = django_user_model.objects.create_user("oscar", password="pw")
    client.force_login(researcher)
    refused = client.post("/admin/authtoken/tokenproxy/add/", {"user": other.pk})  # someone else's: not allowed
    assert b"Select a valid choice" in refused.content and not Token.objects.exists()
    client.post("/admin/authtoken/tokenproxy/add/", {"user": researcher.pk})
    token = Token.objects.get()
    assert token.user == researcher
    headers = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    from django.test import Client

    script = Client()
    assert script.get("/api/studies/", **headers).status_code == 200
    client.post(f"/admin/authtoken/tokenproxy/{researcher.pk}/delete/", {"post": "yes"})
    assert not Token.objects.exists()
    revoked = script.get("/api/studies/", **headers)
    assert revoked.status_code == 403 and revoked.json()["detail"] == "Invalid token."


@pytest.mark.django_db
def test_create_from_images_refuses_bad_input_with_reasons_and_stores_nothing(researcher):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(researcher)
    bad = api.post("/api/studies/from-images/", {"name": "x", "n_batches": 3,
                                                 "images": [_upload("a.png", png_bytes(1))]}, format="multipart")
    assert bad.status_code == 400 and "batches" in bad.json()["detail"]
    junk = api.post("/api/studies/from-images/", {"name": "x", "images": [_upload("a.txt", b"not an image")]}, format="multipart")
    assert junk.status_code == 400 and "a.txt" in junk.json()["detail"]
    assert not Study.objects.exists()


def _upload(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def readme_api_example() -> str:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- api-example -->", 1)[1].split("<!-- /api-example -->", 1)[0]
    return block.split("```python", 1)[1].split("```", 1)[0]


@pytest.mark.django_db(transaction=True)
def test_the_readme_example_script_runs_the_whole_loop_against_a_live_server(live_server, researcher, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(4):
        (images / f"face{i}.png").write_bytes(png_bytes(100 + i))
    token = Token.objects.create(user=researcher)
    script = tmp_path / "loop.py"
    script.write_text(readme_api_example())
    env = {**os.environ, "RATINGS_URL": live_server.url, "RATINGS_TOKEN": token.key, "IMAGES": str(images)}
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    link = None
    import time

    deadline = time.monotonic() + 60
    while link is None and time.monotonic() < deadline and proc.poll() is None:
        for line in list(lines):
            if (m := re.search(r"send raters this link: (\S+)", line)):
                link = m.group(1)
        time.sleep(0.2)
    assert link, "".join(lines)
    token_part = link.rstrip("/").split("/")[-1]
    study = Study.objects.get()
    latent = {item: 5.0 for item in study.batches.get().items.values_list("id", flat=True)}
    rng = np.random.default_rng(0)
    for k in range(study.raters_per_batch):  # three raters take part through the link
        rater_run(live_server.url, token_part, SimulatedRater(name=f"r{k}", bias=0.0, noise=0.5), latent, rng)
    assert proc.wait(timeout=120) == 0, "".join(lines)
    reader.join(timeout=5)
    labels = pd.read_csv(tmp_path / "labels.csv")
    assert sorted(labels["original_name"]) == [f"face{i}.png" for i in range(4)]
    assert (labels["n_raters"] == 3).all() and labels["mean"].between(0, 10).all()
    assert requests.get(f"{live_server.url}/api/studies/", headers={"Authorization": "Token nope"}).status_code == 403
