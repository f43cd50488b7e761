"""Moved to ratings_site.core.permissions; this name stays while other branches adapt."""
from ratings_site.core.permissions import GROUP_PERMISSIONS, ML_STAFF, RESEARCHERS, groups_ensure  # noqa: F401
