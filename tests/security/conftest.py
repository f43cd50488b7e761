# The platform tests' fixtures: media root per test, eager Celery, researcher and ML staff users.
from tests.platform.conftest import _celery_eager, _media_root, ml_staff, researcher  # noqa: F401
