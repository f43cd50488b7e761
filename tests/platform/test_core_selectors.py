"""The reads in ratings_site/core/selectors.py that several apps share."""
import pytest

from ratings_site.core.selectors import number_next
from ratings_site.studies.models import Batch

from .factories import make_study_with_images

pytestmark = pytest.mark.django_db


def test_number_next_is_one_past_the_highest_of_the_rows_given_and_one_for_none():
    study = make_study_with_images(n_images=6, n_batches=3)
    other = make_study_with_images(n_images=2, n_batches=1, start=50, name="other")
    assert sorted(Batch.objects.filter(study=study).values_list("index", flat=True)) == [0, 1, 2]
    assert number_next(Batch.objects.filter(study=study), "index") == 3
    assert number_next(Batch.objects.filter(study=other), "index") == 1  # only the rows given count
    assert number_next(Batch.objects.none(), "index") == 1
