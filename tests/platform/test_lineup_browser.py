"""The lineup page in headless Chromium: instructions with real examples, keyboard and
click choices, reload, the countdown hiding the images, and a 390 px phone screen."""
import pytest

from ratings_site.crowd.models import Invitation
from ratings_site.crowd.services import invitations_create
from ratings_site.lineup.models import Vote
from ratings_site.studies.models import Assignment

from .lineup_helpers import make_lineup_study, make_run
from .test_browser import CHROMIUM, browser, page  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason="needs Debian's chromium"),
]
IMAGES_LOADED = ("sel => { const imgs = Array.from(document.querySelectorAll(sel)); "
                 "return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); }")
NO_OVERFLOW = "() => document.documentElement.scrollWidth <= window.innerWidth"


def progress(page) -> str:
    return page.locator("#progress").inner_text()


def invitation(lu):
    [link] = invitations_create(study=lu.study, kind=Invitation.Kind.OPEN, cap=5)
    return link.token


def test_rater_sees_examples_then_chooses_by_key_and_click_reloads_and_the_countdown_hides_images(
        live_server, page, tmp_path):
    lu = make_lineup_study(make_run(tmp_path, test_subjects=3), subjects=3, raters=2, viewing_seconds=3)
    page.goto(f"{live_server.url}/r/{invitation(lu)}/")
    assert "Real examples of the target expressions" in page.content()
    page.wait_for_function(IMAGES_LOADED, arg="#expression-examples img")
    page.wait_for_function(IMAGES_LOADED, arg="#lighting-examples img")
    page.click("#start")
    assert progress(page) == "Lineup 1 of 3"
    page.wait_for_function(IMAGES_LOADED, arg="#candidates img")
    assert page.locator("#candidates .tile").count() == 4 and page.locator("#reference").is_visible()
    page.keyboard.press("2")
    page.wait_for_function("() => document.querySelector('#progress').innerText.includes('Lineup 2 of 3')")
    page.reload()
    assert progress(page) == "Lineup 2 of 3"  # resumed, not served again
    page.wait_for_selector("#hidden-note", timeout=8_000)  # 3 s of viewing, then the images go
    assert page.locator("#candidates img").count() == 0
    page.locator("#candidates .tile").nth(3).click()  # still answerable in the grace period
    page.wait_for_function("() => document.querySelector('#progress').innerText.includes('Lineup 3 of 3')")
    page.locator("#candidates .tile").nth(0).click()
    page.wait_for_selector("#completion-code")
    assignment = Assignment.objects.get(batch__study=lu.study)
    assert assignment.status == Assignment.Status.SUBMITTED
    positions = list(Vote.objects.filter(assignment=assignment).order_by("lineup__position")
                     .values_list("screen_position", flat=True))
    assert positions == [1, 3, 0]


def test_lineup_page_fits_a_390px_phone_screen(live_server, browser, tmp_path):  # noqa: F811
    lu = make_lineup_study(make_run(tmp_path, test_subjects=2), subjects=2, raters=1)
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True,
                                  has_touch=True)
    phone = context.new_page()
    phone.set_default_timeout(15_000)
    try:
        phone.goto(f"{live_server.url}/r/{invitation(lu)}/")
        phone.wait_for_function(IMAGES_LOADED, arg="#expression-examples img")
        assert phone.evaluate(NO_OVERFLOW), phone.evaluate("document.documentElement.scrollWidth")
        phone.click("#start")
        phone.wait_for_function(IMAGES_LOADED, arg="#candidates img")
        assert phone.evaluate(NO_OVERFLOW), phone.evaluate("document.documentElement.scrollWidth")
        for tile in phone.locator("#candidates .tile").all():  # every choice fully on screen, big enough to tap
            box = tile.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] >= 44
        phone.locator("#candidates .tile").nth(2).tap()
        phone.wait_for_function("() => document.querySelector('#progress').innerText.includes('Lineup 2 of 2')")
        assert phone.evaluate(NO_OVERFLOW)
        phone.locator("#candidates .tile").nth(0).tap()
        phone.wait_for_selector("#completion-code")
        assert phone.evaluate(NO_OVERFLOW)
    finally:
        context.close()
    assert sorted(Vote.objects.values_list("screen_position", flat=True)) == [0, 2]
