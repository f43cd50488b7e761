"""A Turker's path in headless Chromium: preview, accept, rate, submit to (a stand-in for) MTurk."""
import os
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from django.db import connections

from mturk.questions import ASSIGNMENT_ID_NOT_AVAILABLE
from ratings_site.crowd.providers import provider_for
from ratings_site.marketplace import clients
from ratings_site.marketplace.models import MarketplaceSettings, MarketplaceSubmission, PublishedTask
from ratings_site.marketplace.services import submissions_sync
from ratings_site.marketplace.testing import FAKE_AWS_ENV, MTurkDouble, double_client_factory
from ratings_site.studies.models import Assignment, Rating
from ratings_site.studies.services import study_launch

from .factories import make_study_with_images

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop runs in this thread

CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/test installs it)"),
]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


class ExternalSubmitReceiver:
    """Stands in for https://workersandbox.mturk.com/mturk/externalSubmit on 127.0.0.1."""

    def __init__(self):
        self.posts: list[tuple[str, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                receiver.posts.append((self.path, {k: v[-1] for k, v in parse_qs(body).items()}))
                data = b"<html><body><h1 id='mturk-thanks'>HIT submitted</h1></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    with ExternalSubmitReceiver() as r:
        settings.MARKETPLACE_MTURK_SUBMIT_HOSTS = {r.netloc: "sandbox"}
        yield r


@pytest.fixture
def mturk(monkeypatch, settings):
    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    double = MTurkDouble()
    monkeypatch.setattr(clients, "mturk_client_factory", double_client_factory({"sandbox": double}))
    settings.SITE_URL = "https://ratings.example.org"
    return double


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context().new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def test_turker_previews_accepts_rates_and_submits_to_mturk(live_server, page, mturk, receiver):
    study = make_study_with_images(n_images=3, n_batches=1, raters=2, launch=False, provider="mturk",
                                   provider_environment="sandbox")
    MarketplaceSettings.objects.create(study=study, reward_per_batch=Decimal("0.40"))
    study_launch(study=study)  # transactional test: the publish task runs on commit, as in production
    hit_id = PublishedTask.objects.get(study=study).external_id
    assert hit_id in mturk.hits
    entry = f"{live_server.url}/mturk/{study.pk}/"

    # Preview: instructions and the answer scale, nothing to rate.
    page.goto(f"{entry}?assignmentId={ASSIGNMENT_ID_NOT_AVAILABLE}&hitId={hit_id}")
    assert "Preview" in page.locator("#preview-note").inner_text()
    assert page.locator("#sample-scale button").count() == 11 and page.locator("#face-image").count() == 0
    assert not Assignment.objects.exists()

    # Accepted: MTurk appends the four parameters.
    assignment_id = mturk.accept(hit_id, "ABROWSERWORKER")
    page.goto(f"{entry}?assignmentId={assignment_id}&hitId={hit_id}&workerId=ABROWSERWORKER"
              f"&turkSubmitTo=http%3A%2F%2F{receiver.netloc}")
    # The worker reads the study's consent statement and agrees before the first image.
    assert page.locator("#consent-statement").is_visible() and page.locator("#face-image").count() == 0
    page.check("#consent")
    page.click("#start")
    for position, key in enumerate(["7", "3", "+"], start=1):
        page.wait_for_function("t => document.querySelector('#progress').innerText.includes(t)", arg=f"Image {position} of 3")
        page.keyboard.press(key)
    page.wait_for_selector("#completion-code")

    page.click("#external-submit button")
    page.wait_for_selector("#mturk-thanks")
    [(path, form)] = receiver.posts
    assert path == "/mturk/externalSubmit" and form["assignmentId"] == assignment_id
    mturk.submit(form["assignmentId"])  # what MTurk does on that POST

    assert sorted(Rating.objects.values_list("score", flat=True)) == [3, 7, 10]
    assert submissions_sync(study=study).confirmed == 1
    sub = MarketplaceSubmission.objects.get()
    assert (sub.worker_id, sub.verification, sub.payment) == ("ABROWSERWORKER", "confirmed", "approved")
    assert Assignment.objects.get().verified and mturk.assignments[assignment_id]["AssignmentStatus"] == "Approved"
    assert provider_for(study).verifies_on_submit is False
    # ORM calls made while Playwright runs get their own connection (contextvars per
    # greenlet); close it here, or the test database cannot be dropped at the end.
    connections.close_all()
