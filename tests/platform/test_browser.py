"""The rating page in headless Chromium (Debian's package, driven by Playwright)."""
import os
import time

import pytest

from ratings_site.crowd.models import Invitation
from ratings_site.crowd.services import invitations_create
from ratings_site.labels.models import Label
from ratings_site.labels.services import labels_compute
from ratings_site.studies.models import Assignment, Rating

from .factories import make_study_with_images
from .test_labels import finish

# Playwright's sync API runs an event loop in this thread; the ORM calls below are
# ordinary synchronous test code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/test installs it)"),
]
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def progress(page) -> str:
    return page.locator("#progress").inner_text()


def press_and_wait(page, key: str, expect_progress: str | None):
    page.keyboard.press(key)
    if expect_progress:
        page.wait_for_function("t => document.querySelector('#progress') && "
                               "document.querySelector('#progress').innerText.includes(t)", arg=expect_progress)


def test_rater_rates_with_keyboard_reloads_resumes_and_lets_the_countdown_expire(live_server, page, browser):
    study = make_study_with_images(n_images=4, n_batches=1, raters=3, viewing_seconds=2, answer_grace_seconds=60)
    [link] = invitations_create(study=study, kind=Invitation.Kind.OPEN, cap=10)

    page.goto(f"{live_server.url}/r/{link.token}/")
    assert "Instructions" in page.content()
    page.check("#consent")
    page.click("#start")
    assert progress(page) == "Image 1 of 4"
    assert page.locator("#face-image").is_visible()

    press_and_wait(page, "7", "Image 2 of 4")
    press_and_wait(page, "+", "Image 3 of 4")  # + means 10
    page.reload()
    assert progress(page) == "Image 3 of 4"  # resumed where the rater was

    # Let the countdown run out: the face is hidden, the rater can still answer.
    page.wait_for_selector("#hidden-note", timeout=6_000)
    assert page.locator("#face-image").count() == 0
    assert page.locator("#countdown").inner_text() == "0"
    press_and_wait(page, "3", "Image 4 of 4")
    page.keyboard.press("0")
    page.wait_for_selector("#completion-code")
    code = page.locator("#completion-code").inner_text()

    assignment = Assignment.objects.get()
    assert assignment.status == Assignment.Status.SUBMITTED and assignment.completion_code == code
    scores = list(Rating.objects.filter(assignment=assignment).order_by("item__position").values_list("score", flat=True))
    assert scores == [7, 10, 3, 0]

    # Two more raters finish the batch; a fourth is refused in the browser.
    by_position = dict(zip(assignment.batch.items.order_by("position").values_list("image_id", flat=True), scores))
    finish(study, "b", [5, 8, 3, 2])
    finish(study, "c", [6, 9, 3, 1])
    other = browser.new_context().new_page()
    other.goto(f"{live_server.url}/r/{link.token}/")
    other.check("#consent")
    other.click("#start")
    assert "not accepting raters" in other.locator("#message").inner_text()

    labels_compute(study=study)
    items = list(assignment.batch.items.order_by("position").values_list("image_id", flat=True))
    expected = {items[0]: (7 + 5 + 6) / 3, items[1]: (10 + 8 + 9) / 3, items[2]: 3.0, items[3]: 1.0}
    got = dict(Label.objects.filter(study=study).values_list("image_id", "mean"))
    assert got == pytest.approx(expected)
    assert by_position[items[0]] == 7


def test_rating_buttons_work_without_keyboard_and_errors_are_shown(live_server, page):
    study = make_study_with_images(n_images=2, n_batches=1, raters=1)
    [link] = invitations_create(study=study)
    page.goto(f"{live_server.url}/r/{link.token}/")
    page.check("#consent")
    page.click("#start")
    page.click("button[data-score='4']")
    page.wait_for_function("document.querySelector('#progress').innerText.includes('Image 2 of 2')")
    # A forged out-of-range value posted from the page gets a clear message, nothing saved.
    page.evaluate("document.querySelector(\"button[data-score='5']\").dataset.score = '42'")
    page.click("button[data-score='42']")
    page.wait_for_selector("#error")
    assert "between 0 and 10" in page.locator("#error").inner_text()
    assert Rating.objects.count() == 1
    time.sleep(0.1)
