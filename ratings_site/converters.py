"""URL converters. `<secret:token>` matches only what our secret tokens can look like
(secrets.token_urlsafe: letters, digits, '-' and '_', at most the column's 64 characters), so a
NUL byte or a 5,000-character probe is a 404 from the URL resolver, never a database error."""
from django.urls import register_converter


class SecretTokenConverter:
    regex = r"[A-Za-z0-9_-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(SecretTokenConverter, "secret")
