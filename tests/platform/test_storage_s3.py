"""Media on S3 (django-storages over boto3), against moto's in-process S3."""
import boto3
import pytest
from moto import mock_aws

from ratings_site.crowd.services import invitations_create
from ratings_site.catalog.models import Image

from .factories import make_study_with_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3(settings, monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="faces")
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": "storages.backends.s3.S3Storage",
                        "OPTIONS": {"bucket_name": "faces", "querystring_auth": True, "querystring_expire": 120,
                                    "signature_version": "s3v4"}},
        }
        yield boto3.client("s3", region_name="us-east-1")


def test_images_go_to_s3_and_raters_get_signed_urls(s3, client):
    study = make_study_with_images(n_images=2, n_batches=1)
    stored = [o["Key"] for o in s3.list_objects_v2(Bucket="faces")["Contents"]]
    assert sorted(stored) == sorted(Image.objects.values_list("file", flat=True))
    [invitation] = invitations_create(study=study)
    rate_url = client.post(f"/r/{invitation.token}/", {"consent": "yes"})["Location"]
    image_url = client.get(rate_url).context["image_url"]
    response = client.get(image_url)
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("https://faces.s3.amazonaws.com/images/") and "X-Amz-Signature=" in location
    assert "X-Amz-Expires=120" in location
