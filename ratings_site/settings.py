"""One settings module, read from the environment.

Embedded defaults (no variables set): SQLite under var/, a filesystem Celery broker under
var/broker (no server needed), local media under var/media. Production sets DATABASE_URL,
CELERY_BROKER_URL and, for S3 media, AWS_STORAGE_BUCKET_NAME.
"""
from datetime import timedelta

import dj_database_url

from .env import BASE_DIR, VAR_DIR, env_bool, env_int, env_list, env_str

from django.core.exceptions import ImproperlyConfigured

DEV_SECRET_KEY = "dev-only-insecure-key-change-me"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", False)
if not DEBUG and (SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 32):
    # Sessions, password resets and signed rating links all rest on this key.
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is unset or the development key while DJANGO_DEBUG is off: set DJANGO_SECRET_KEY to a "
        "long random value (python -c 'import secrets; print(secrets.token_urlsafe(50))'), or DJANGO_DEBUG=1 for "
        "development. (scripts/test and `make demo` set a throwaway key themselves.)"
    )
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc assets served by the site itself, no CDN
    "rest_framework.authtoken",  # tokens for scripts; researchers create and revoke them in the admin
    "ratings_site.core",
    "ratings_site.catalog",
    "ratings_site.crowd",
    "ratings_site.studies",
    "ratings_site.labels",
    "ratings_site.jobs",
    "ratings_site.api",
    "ratings_site.marketplace",
    "ratings_site.preprocessing",
    "ratings_site.training",
    "ratings_site.lineup",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into a 429 page
]

# Repeated wrong passwords (admin login and the API's HTTP Basic auth) lock that username from
# that address for a while (django-axes). Per username *and* address, so a stranger cannot
# lock a researcher out from everywhere; a right password resets the count.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "ratings_site.client_ip.client_ip"
AXES_VERBOSE = False
# How many proxies of ours stand in front of the site (docker-compose: nginx, so 1).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

ROOT_URLCONF = "ratings_site.urls"
WSGI_APPLICATION = "ratings_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "ratings_site" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}", conn_max_age=env_int("DB_CONN_MAX_AGE", 60)
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded demo has a web server and a worker writing at once: wait for locks
    # instead of failing, and take the write lock up front so two writers never deadlock.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing folder
MEDIA_URL = "/media/"
MEDIA_ROOT = env_str("MEDIA_ROOT", str(VAR_DIR / "media"))

# Image import limits (catalog/upload_checks.py): each refused file is reported, the rest import.
IMPORT_MAX_FILE_BYTES = env_int("IMPORT_MAX_FILE_BYTES", 50 * 1024 * 1024)
IMPORT_MAX_PIXELS = env_int("IMPORT_MAX_PIXELS", 50_000_000)
IMPORT_MAX_ZIP_MEMBERS = env_int("IMPORT_MAX_ZIP_MEMBERS", 200_000)
IMPORT_MAX_ZIP_TOTAL_BYTES = env_int("IMPORT_MAX_ZIP_TOTAL_BYTES", 20 * 1024 * 1024 * 1024)
IMPORT_MAX_UPLOAD_BYTES = env_int("IMPORT_MAX_UPLOAD_BYTES", 2 * 1024 * 1024 * 1024)
# An unverified marketplace submission (its ids are a claim until MTurk or Prolific confirm
# them) holds its batch slot for this long, then frees it even if no sync has run.
MARKETPLACE_CLAIM_RESERVATION_MINUTES = env_int("MARKETPLACE_CLAIM_RESERVATION_MINUTES", 15)
# Server folders the admin's folder and manifest imports may read (catalog/import_roots.py).
IMAGE_IMPORT_ROOTS = env_list("IMAGE_IMPORT_ROOTS", [str(VAR_DIR / "imports")])

# Media goes through Django's storage API: local files by default, S3 (signed URLs) when a
# bucket is configured.
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "querystring_auth": True,
            "querystring_expire": env_int("AWS_QUERYSTRING_EXPIRE", 300),
            "signature_version": "s3v4",
            "default_acl": "private",
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# Rating links must be HTTPS in production (MTurk and Prolific require it).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY") else None
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
# Served over HTTPS (behind a TLS proxy, or a https:// SITE_URL): cookies only over TLS,
# plain HTTP redirected, HSTS on. `manage.py check --deploy` is clean for these settings.
SERVED_OVER_TLS = not DEBUG and (env_bool("BEHIND_TLS_PROXY") or SITE_URL.startswith("https://"))
if SERVED_OVER_TLS:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer's plain-HTTP health check
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 30 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",  # scripts: Authorization: Token <key>
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "ratings_site.api.schema.DocumentedErrorsSchema",
    "EXCEPTION_HANDLER": "ratings_site.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Face naturalness ratings API",
    "DESCRIPTION": "Studies, batches, labels, exports and the rating endpoints.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `status`; name each choice set after its model, not a hash.
    "ENUM_NAME_OVERRIDES": {
        "StudyStatusEnum": "ratings_site.studies.models.Study.Status",
        "AssignmentStatusEnum": "ratings_site.studies.models.Assignment.Status",
    },
}

# Celery: Redis in CI and production; an embedded filesystem broker otherwise, so the demo
# runs a real worker process with no server to install.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    for _sub in ("in", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "in"),
        "data_folder_out": str(BROKER_DIR / "in"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
if CELERY_BROKER_URL.startswith("redis"):
    # How long an unacknowledged message waits before Redis hands it to another worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
# Training runs on the GPU queue: `celery -A ratings_site worker -Q gpu -c 1`.
CELERY_TASK_ROUTES = {"ratings_site.training.tasks.*": {"queue": "gpu"}}
RUNS_ROOT = env_str("RUNS_ROOT", str(VAR_DIR / "runs"))
# Every job's worker beats every JOB_HEARTBEAT_SECONDS; silent for JOB_HEARTBEAT_STALE_SECONDS,
# it counts as dead and the sweep (every JOB_SWEEP_SECONDS) re-sends the job: well within a minute.
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 5)
JOB_HEARTBEAT_STALE_SECONDS = env_int("JOB_HEARTBEAT_STALE_SECONDS", env_int("TRAINING_HEARTBEAT_STALE_SECONDS", 20))
JOB_SWEEP_SECONDS = env_int("JOB_SWEEP_SECONDS", 15)
# The evaluation a LEGAN "Evaluate" job runs (same signature as legan.evaluate.evaluate_checkpoint).
LEGAN_EVALUATE_FUNCTION = env_str("LEGAN_EVALUATE_FUNCTION", "legan.evaluate.evaluate_checkpoint")
CELERY_BEAT_SCHEDULE = {
    "expire-abandoned-assignments": {
        "task": "ratings_site.studies.tasks.assignments_expire_stale_task",
        "schedule": 60.0,
    },
    "marketplace-sync": {
        # Confirms submissions from MTurk's and Prolific's own records; resumes publishing.
        "task": "ratings_site.marketplace.tasks.marketplace_sync_task",
        "schedule": 300.0,
    },
    "sweep-jobs": {
        # Every job kind: re-sends jobs whose worker died or whose message was lost.
        "task": "ratings_site.jobs.tasks.jobs_sweep_task",
        "schedule": float(JOB_SWEEP_SECONDS),
    },
}

LOGIN_URL = "admin:login"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
