"""The client's address, as login lockout (django-axes) and open-link network keys see it.

One job. With no proxy in front, it is REMOTE_ADDR. Behind proxies we run (docker-compose's
nginx), set TRUSTED_PROXY_COUNT to their number: the address is then the entry that many
places from the right of X-Forwarded-For, the one our own proxy wrote; entries further left
are whatever the client sent and are never trusted.
"""
from django.conf import settings


def client_ip(request) -> str:
    hops = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if hops > 0:
        chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(chain) >= hops:
            return chain[-hops]
    return request.META.get("REMOTE_ADDR", "")
