"""The rating page as raters meet it, in headless Chromium: on a phone and a desktop,
with the keyboard only, with a screen reader's landmarks, and after the time runs out."""
import os

import numpy as np
import pytest

from ratings_site.crowd.models import Invitation
from ratings_site.crowd.services import invitations_create
from ratings_site.studies import errors
from ratings_site.studies.models import Assignment, Rating, Study
from ratings_site.studies.services import study_launch

from .test_browser import CHROMIUM, browser  # noqa: F401  (the module-scoped fixture)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/test installs it)"),
]

def save_screenshot(page, name: str) -> None:
    """scripts/screenshots sets SCREENSHOT_DIR=docs/screenshots to refresh the committed ones."""
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        page.screenshot(path=os.path.join(folder, name), full_page=True)


OVERFLOW = "() => ({doc: document.documentElement.scrollWidth, view: window.innerWidth})"


def _page(browser, width, height=844):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def _faces(n: int):
    """Face crops of scikit-image's astronaut photo, degraded by known amounts (as the demo
    does), in a source of their own; returns (source, image ids from natural to unnatural)."""
    import io

    from PIL import Image as PILImage
    from skimage import data

    from quality.degradations import degrade
    from ratings_site.catalog.models import Source
    from ratings_site.catalog.services import image_create

    face = data.astronaut()[20:220, 150:350]
    source, _ = Source.objects.get_or_create(slug="faces", defaults={"name": "Faces"})
    ids = []
    for i, kind in enumerate(["none", "blur", "checkerboard", "warp"][:n]):
        pixels = face if kind == "none" else degrade(face, kind, 0.5 + 0.2 * i, np.random.default_rng(i))
        buffer = io.BytesIO()
        PILImage.fromarray(np.asarray(pixels, dtype=np.uint8)).resize((192, 192)).save(buffer, format="PNG")
        outcome = image_create(name=f"face-{kind}.png", data=buffer.getvalue(), source=source)
        ids.append(outcome.image_id)
    return source, ids


def _study(**fields):
    source, ids = _faces(4)
    study = Study.objects.create(
        name="Face naturalness", sample_size=3, n_batches=1, raters_per_batch=2, seed=1,
        example_natural_id=ids[0], example_unnatural_id=ids[-1], pay_description="£0.50 for the batch",
        consent_statement="You agree that we store your ratings for study 42.", **{"viewing_seconds": 60, **fields},
    )
    study.sources.set([source])
    study = study_launch(study=study)
    [link] = invitations_create(study=study, kind=Invitation.Kind.OPEN, cap=2)
    return study, link


def _no_horizontal_overflow(page):
    size = page.evaluate(OVERFLOW)
    assert size["doc"] <= size["view"], size


@pytest.mark.parametrize("width", [390, 1280])
def test_instructions_and_rating_page_fit_the_screen_and_the_scale_is_one_row(live_server, browser, width):
    study, link = _study()
    page = _page(browser, width)
    page.goto(f"{live_server.url}/r/{link.token}/")
    _no_horizontal_overflow(page)
    # Examples, pay, expected time and the study's own consent statement, before any image.
    assert page.locator("#example-natural").evaluate("img => img.naturalWidth") > 0
    assert page.locator("#example-unnatural").evaluate("img => img.naturalWidth") > 0
    assert page.locator("#pay").inner_text() == "£0.50 for the batch"
    assert page.locator("#task-summary").inner_text() == "3 images, one at a time"
    assert "about 3 min" in page.locator("#expected-time").inner_text()  # 3 images x 60 s
    assert "study 42" in page.locator("#consent-statement").inner_text()
    page.check("#consent")
    page.click("#start")
    page.wait_for_selector("#face-image")
    _no_horizontal_overflow(page)
    tops = page.locator(".scale button").evaluate_all("bs => bs.map(b => Math.round(b.getBoundingClientRect().top))")
    widths = page.locator(".scale button").evaluate_all("bs => bs.map(b => b.getBoundingClientRect().width)")
    assert len(tops) == 11 and len(set(tops)) == 1, tops  # one row
    assert min(widths) >= 24, widths  # big enough to tap
    face = page.locator("#face").bounding_box()
    assert face["width"] <= width and face["width"] == pytest.approx(face["height"], abs=1)
    save_screenshot(page, f"rater-page-{width}px.png")


def test_consent_is_required_before_the_first_image(live_server, browser):
    study, link = _study()
    page = _page(browser, 390)
    page.goto(f"{live_server.url}/r/{link.token}/")
    page.click("#start")  # the browser refuses: the box is required
    assert page.url.endswith(f"/r/{link.token}/") and Assignment.objects.count() == 0
    # A form posted without the box (no browser validation) gets the reason, and nothing starts.
    page.evaluate("document.querySelector('#consent').required = false")
    page.click("#start")
    assert page.locator("#error").inner_text() == errors.CONSENT_REQUIRED
    assert Assignment.objects.count() == 0
    page.check("#consent")
    page.click("#start")
    page.wait_for_selector("#face-image")
    assert Assignment.objects.get().consented_at is not None


def test_a_whole_task_with_the_keyboard_only_and_accessible_progress(live_server, browser):
    study, link = _study()
    page = _page(browser, 1280)
    page.goto(f"{live_server.url}/r/{link.token}/")

    def tab_to(selector, limit=40):
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("#consent")
    page.keyboard.press("Space")
    tab_to("#start")
    page.keyboard.press("Enter")
    page.wait_for_selector("#face-image")
    for position, score in enumerate([7, 0, 10], start=1):
        bar = page.locator("#progress-bar")
        assert bar.get_attribute("role") == "progressbar"
        assert (bar.get_attribute("aria-valuenow"), bar.get_attribute("aria-valuemax")) == (str(position - 1), "3")
        timer = page.locator("#timer")
        assert timer.get_attribute("role") == "progressbar" and timer.get_attribute("aria-valuemax") == "60"
        assert 0 < int(timer.get_attribute("aria-valuenow")) <= 60
        assert page.locator("#status").get_attribute("aria-live") == "polite"
        assert f"Image {position} of 3" in page.locator("#status").inner_text()
        tab_to(f"button[data-score='{score}']")
        page.keyboard.press("Enter")
        if position < 3:
            page.wait_for_function("t => document.querySelector('#progress').innerText.includes(t)", arg=f"Image {position + 1} of 3")
    page.wait_for_selector("#completion-code")
    scores = list(Rating.objects.order_by("item__position").values_list("score", flat=True))
    assert scores == [7, 0, 10]


def test_after_the_windows_the_page_and_server_agree_and_say_what_happens(live_server, browser):
    study, link = _study(viewing_seconds=1, answer_grace_seconds=2)
    page = _page(browser, 390)
    page.goto(f"{live_server.url}/r/{link.token}/")
    page.check("#consent")
    page.click("#start")
    page.wait_for_selector("#face-image")
    # The face hides; the page says how long is left to answer and what happens after.
    page.wait_for_selector("#hidden-note", timeout=5_000)
    assert "skipped" in page.locator("#hidden-note").inner_text()
    assert page.locator("#timer").get_attribute("aria-label") == "Time left to answer"
    assert "Answer within" in page.locator("#status").inner_text()
    # Then the page moves on by itself, and the server agrees the image was skipped.
    page.wait_for_selector("#notice", timeout=8_000)
    assert page.locator("#notice").inner_text() == errors.MISSED_PREVIOUS
    assert "Image 2 of 3" in page.locator("#progress").inner_text()
    assert Rating.objects.count() == 0
    page.keyboard.press("5")  # the next image is answered normally
    page.wait_for_function("document.querySelector('#progress') && document.querySelector('#progress').innerText.includes('Image 3 of 3')")
    assert list(Rating.objects.values_list("score", flat=True)) == [5]


def test_a_full_study_says_so_plainly(live_server, browser):
    study, link = _study()
    for _ in range(2):  # the study's 2 places
        other = _page(browser, 390)
        other.goto(f"{live_server.url}/r/{link.token}/")
        other.check("#consent")
        other.click("#start")
        other.wait_for_selector("#face-image")
    late = _page(browser, 390)
    late.goto(f"{live_server.url}/r/{link.token}/")
    assert late.locator("#full-heading").inner_text() == "This study is full"
    assert late.locator("#message").inner_text() == errors.STUDY_FULL
    _no_horizontal_overflow(late)
