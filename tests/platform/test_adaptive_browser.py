"""An adaptive study over the demo's images, rated in headless Chromium until it completes."""
import os
from collections import Counter

import pytest

from ratings_site.labels.models import Label
from ratings_site.studies.management.commands.demo import Command as Demo
from ratings_site.studies.models import BatchItem, Study

from .test_browser import CHROMIUM, CHROMIUM_ARGS

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/test installs it)"),
]


def rate_one_batch(browser, url: str, score_for) -> int | None:
    """One new rater (a fresh browser context) rates a whole batch with the keyboard;
    returns how many images they rated, or None when the study took no one."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(url)
        if page.locator("#start").count() == 0:
            return None  # "This study is full", said before any instructions
        page.check("#consent")
        with page.expect_navigation():
            page.click("#start")
        rated = 0
        while "/done/" not in page.url:
            if page.locator("#progress").count() == 0:
                return None  # the message page: nothing left to rate
            item = BatchItem.objects.select_related("image").get(pk=int(page.locator("input[name=item]").first.input_value()))
            score = score_for(item, rated)
            with page.expect_navigation():
                page.keyboard.press("+" if score == 10 else str(score))
            rated += 1
        return rated
    finally:
        context.close()


def test_adaptive_demo_study_completes_in_a_real_browser(live_server, tmp_path):
    from playwright.sync_api import sync_playwright

    demo = Demo()
    images = demo._images(tmp_path, {"shared_data": False, "per_image": 6, "seed": 0})
    latent = dict(zip(images.image_id, images.latent))
    link = Demo.adaptive_study_for_people(len(images), 0, size=8, items_per_batch=4)
    study = Study.objects.get(name="Demo: adaptive, rate it yourself")
    assert study.adaptive and study.n_batches == 6 and study.raters_per_batch == 1

    def score_for(item, k):  # the simulator's latent naturalness, give or take a point
        return int(min(10, max(0, round(latent[item.image_id]) + (k % 3) - 1)))

    batches = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for _ in range(10):
                if rate_one_batch(browser, f"{live_server.url}{link}", score_for) is None:
                    break
                batches += 1
                study.refresh_from_db()
                if study.status == Study.Status.COMPLETE:
                    break
        finally:
            browser.close()

    study.refresh_from_db()
    assert study.status == Study.Status.COMPLETE
    per_image = Counter(BatchItem.objects.filter(pool__study=study, ratings__isnull=False).values_list("image_id", flat=True))
    assert len(per_image) == 8 and all(2 <= n <= 4 for n in per_image.values())
    assert sum(per_image.values()) <= study.rating_budget
    labels = Label.objects.filter(study=study)
    assert labels.count() == 8 and not labels.filter(low_n=True).exists()
