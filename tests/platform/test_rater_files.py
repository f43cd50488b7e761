"""The files raters fetch: example faces for whoever holds a live invitation or an assignment
of the study, and served images only inside their viewing window, with the media headers."""
from datetime import timedelta

import pytest
from django.utils import timezone

from ratings_site.crowd.models import Invitation
from ratings_site.crowd.services import invitations_create
from ratings_site.studies.selectors import IMAGE_SLACK_SECONDS, image_window_open, study_for_token
from ratings_site.studies.services import assignment_allocate

from .factories import make_images, make_study_with_images, png_bytes, rater

pytestmark = pytest.mark.django_db


@pytest.fixture
def study():
    natural, unnatural = make_images(2, source_slug="progan", start=900)
    return make_study_with_images(example_natural_id=natural, example_unnatural_id=unnatural)


def test_example_faces_for_a_live_invitation_or_an_assignment_only(client, study):
    [link] = invitations_create(study=study, kind=Invitation.Kind.OPEN, cap=3)
    response = client.get(f"/examples/{link.token}/natural/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == png_bytes(900)
    assert response["X-Content-Type-Options"] == "nosniff"  # served like every stored file

    assignment = assignment_allocate(study=study, rater=rater("W1"))
    assert study_for_token(assignment.token) == study
    assert client.get(f"/examples/{assignment.token}/unnatural/").status_code == 200

    Invitation.objects.filter(pk=link.pk).update(revoked=True)
    assert study_for_token(link.token) is None
    assert client.get(f"/examples/{link.token}/natural/").status_code == 404
    assert client.get(f"/examples/{assignment.token}/other/").status_code == 404


def test_the_viewing_window_is_the_study_s_plus_the_page_s_slack(study):
    served = timezone.now()
    limit = study.viewing_seconds + IMAGE_SLACK_SECONDS
    assert image_window_open(study=study, served_at=served, now=served + timedelta(seconds=limit))
    assert not image_window_open(study=study, served_at=served, now=served + timedelta(seconds=limit + 1))
