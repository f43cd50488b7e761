"""The production web server configuration (Dockerfile, docker-compose, bench/bench_load.py).

Threaded workers (gthread): a client that sends its headers slowly holds one thread, not a
whole worker process, so a handful of slow clients cannot starve the site (issue 12, defect
10; bench/bench_slow_clients.py shows it). In docker-compose, nginx buffers whole requests in
front of it as well, which is the real defence against many slow clients.
"""
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# A request line or header that is not complete in this time is cut off.
limit_request_line = 8190
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))  # 0: never recycle
