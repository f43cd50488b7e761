"""What an open invitation link knows about the browser behind a request.

One job: two keys that let the same person be recognised when they come back through an
open link, so they get their own earlier rater (and so never a second slot on a batch they
already had) instead of a new one.

- The browser key: a random id in a signed, HttpOnly cookie that outlives the session
  (a year). It stops a person who reloads, opens a new tab, or logs the session out; it does
  NOT stop one who clears cookies, uses a private window or another browser.
- The network key, when the researcher turns it on for a link (`one_per_network`): a keyed
  hash of the client address and User-Agent. It also stops cookie clearing and private
  windows from the same machine; it does NOT stop a second device, a VPN or a new address,
  and it merges people who share one address and browser build (a lab, a NAT), so it is off by
  default. Behind a proxy, set TRUSTED_PROXY_COUNT so the address is the client's (client_ip.py).
- Neither stops a determined person with several devices: the per-link cap bounds what one
  leaked open link can cost, and single-use links (one per invited person) are the strong
  option. Only hashes are stored, never the address itself.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core import signing

from ratings_site.client_ip import client_ip

COOKIE = "rater_browser"
SALT = "ratings_site.crowd.browser_key"
MAX_AGE = 365 * 24 * 3600


def browser_id_read(request) -> str | None:
    raw = request.COOKIES.get(COOKIE)
    if not raw:
        return None
    try:
        return signing.loads(raw, salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        return None  # forged or tampered: treated as a new browser


def browser_id_new() -> str:
    return secrets.token_urlsafe(16)


def browser_cookie_set(response, browser_id: str) -> None:
    response.set_cookie(
        COOKIE, signing.dumps(browser_id, salt=SALT), max_age=MAX_AGE, httponly=True, samesite="Lax",
        secure=bool(settings.SECURE_PROXY_SSL_HEADER),
    )


def _keyed(value: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def browser_key(browser_id: str) -> str:
    return _keyed(f"browser:{browser_id}")


def network_key(request) -> str:
    address = client_ip(request)
    return _keyed(f"network:{address}|{request.META.get('HTTP_USER_AGENT', '')}")
