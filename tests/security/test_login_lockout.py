"""Repeated wrong passwords on the admin login and the API's Basic auth (issue 12, defect 12)."""
import base64

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.AXES_FAILURE_LIMIT = 3


def admin_login(client, username, password, ip="198.51.100.1"):
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_admin_login_locks_after_repeated_wrong_passwords(researcher):
    client = Client()
    for _ in range(2):
        assert admin_login(client, "rita", "wrong").status_code == 200  # the form again, with its error
    locked = admin_login(client, "rita", "wrong")
    assert locked.status_code == 429
    # Locked: even the right password is refused from this address until the cool-off ends.
    assert admin_login(client, "rita", "pw-rita-123").status_code == 429


def test_lockout_is_per_username_and_address_so_others_can_still_log_in(researcher):
    attacker = Client()
    for _ in range(3):
        admin_login(attacker, "rita", "wrong", ip="203.0.113.66")
    ok = admin_login(Client(), "rita", "pw-rita-123", ip="198.51.100.2")
    assert ok.status_code == 302 and ok["Location"] == "/admin/"


def test_a_right_password_resets_the_count(researcher):
    client = Client()
    admin_login(client, "rita", "wrong")
    admin_login(client, "rita", "wrong")
    assert admin_login(client, "rita", "pw-rita-123").status_code == 302
    again = Client()
    admin_login(again, "rita", "wrong")
    admin_login(again, "rita", "wrong")
    assert admin_login(again, "rita", "pw-rita-123").status_code == 302


def test_api_basic_auth_locks_after_repeated_wrong_passwords(researcher):
    client = APIClient()
    for _ in range(3):
        assert client.get("/api/studies/", HTTP_AUTHORIZATION=basic("rita", "wrong"), REMOTE_ADDR="198.51.100.3").status_code in (401, 403)
    locked = client.get("/api/studies/", HTTP_AUTHORIZATION=basic("rita", "pw-rita-123"), REMOTE_ADDR="198.51.100.3")
    assert locked.status_code in (403, 429)
    assert client.get("/api/studies/", HTTP_AUTHORIZATION=basic("rita", "pw-rita-123"), REMOTE_ADDR="198.51.100.4").status_code == 200


def test_spoofed_forwarded_for_does_not_dodge_the_lockout(researcher, settings):
    settings.TRUSTED_PROXY_COUNT = 1  # one proxy of ours: only its entry (the rightmost) counts
    client = Client()
    for i in range(3):
        client.post(
            "/admin/login/", {"username": "rita", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}, 192.0.2.50", REMOTE_ADDR="127.0.0.1",
        )
    locked = client.post(
        "/admin/login/", {"username": "rita", "password": "pw-rita-123"},
        HTTP_X_FORWARDED_FOR="10.9.9.9, 192.0.2.50", REMOTE_ADDR="127.0.0.1",
    )
    assert locked.status_code == 429
