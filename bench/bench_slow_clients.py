"""Slow clients against the web server: the old setup (4 sync workers), gunicorn.conf.py
alone, and the production setup (deploy/nginx.conf in front of gunicorn.conf.py, as in
docker-compose), in the same run (issue 12, defect 10). The nginx row needs an `nginx`
binary (Debian: apt-get install nginx-light) and is skipped without one.

Each setup gets SLOW connections that send a request's headers one byte per second, while a
probe asks /healthz every 0.25 s with a 2 s timeout. Prints the probe's latencies and how many
probes timed out. Servers are started here on 127.0.0.1 only and stopped at the end; the run
is bounded (--seconds per setup).

    .venv/bin/python bench/bench_slow_clients.py [--slow 8] [--seconds 12]
"""
from __future__ import annotations

import argparse
import secrets
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
import shutil
import tempfile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.harness import free_port, wait_healthy  # noqa: E402
SETUPS = {
    "old: 4 sync workers": (["-w", "4"], False),
    "gunicorn.conf.py alone (4 gthread workers x 8 threads)": (["-c", "gunicorn.conf.py"], False),
    "production: nginx (deploy/nginx.conf) + gunicorn.conf.py": (["-c", "gunicorn.conf.py"], True),
}


def proxy_start(listen: int, upstream: int, folder: Path) -> subprocess.Popen:
    """nginx with the deployment's config, pointed at 127.0.0.1 ports, files in `folder`."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    conf = conf.replace("server web:8000;", f"server 127.0.0.1:{upstream};").replace("listen 80;", f"listen 127.0.0.1:{listen};")
    (folder / "nginx.conf").write_text(conf)
    proc = subprocess.Popen(
        [shutil.which("nginx"), "-p", str(folder), "-c", str(folder / "nginx.conf"),
         "-g", f"daemon off; pid {folder}/nginx.pid; error_log {folder}/error.log;"],
    )
    return wait_healthy(proc, f"http://127.0.0.1:{listen}/healthz", seconds=20,
                        failure=lambda: "nginx did not start: " + (folder / "error.log").read_text()[-500:])


def serve(args: list[str], port: int) -> subprocess.Popen:
    # Settings refuse the development key with DEBUG off: a throwaway key per run.
    env = {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50), **os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "4"}
    command = [sys.executable, "-m", "gunicorn", "ratings_site.wsgi", *args, "-b", f"127.0.0.1:{port}", "--log-level", "error"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    return wait_healthy(proc, f"http://127.0.0.1:{port}/healthz")


def slow_client(port: int, stop: threading.Event) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            for byte in request:
                if stop.is_set():
                    return
                sock.send(bytes([byte]))
                time.sleep(1.0)
    except OSError:
        return  # the server cut us off: that is a defence working


def measure(args: list[str], proxied: bool, slow: int, seconds: float) -> dict:
    upstream = free_port()
    proc = serve(args, upstream)
    port, proxy, folder = upstream, None, tempfile.TemporaryDirectory()
    if proxied:
        port = free_port()
        proxy = proxy_start(port, upstream, Path(folder.name))
    stop = threading.Event()
    threads = [threading.Thread(target=slow_client, args=(port, stop), daemon=True) for _ in range(slow)]
    try:
        for t in threads:
            t.start()
        time.sleep(1.0)  # let the slow connections be accepted
        latencies, timeouts = [], 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            start = time.perf_counter()
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                latencies.append(time.perf_counter() - start)
            except requests.RequestException:
                timeouts += 1
            time.sleep(0.25)
    finally:
        stop.set()
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=15)
        folder.cleanup()
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {
        "probes": len(latencies) + timeouts, "timeouts": timeouts,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "max_ms": 1000 * max(latencies) if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=8, help="slow-header connections")
    parser.add_argument("--seconds", type=float, default=12.0, help="probe time per setup")
    opts = parser.parse_args()
    print(f"{opts.slow} slow-header clients; /healthz probed every 0.25 s (2 s timeout) for {opts.seconds:.0f} s")
    print(f"{'setup':64s} {'probes':>6s} {'timeouts':>8s} {'p50 ms':>8s} {'max ms':>8s}")
    for name, (args, proxied) in SETUPS.items():
        if proxied and not shutil.which("nginx"):
            print(f"{name:64s} skipped: no nginx binary")
            continue
        r = measure(args, proxied, opts.slow, opts.seconds)
        print(f"{name:64s} {r['probes']:6d} {r['timeouts']:8d} {r['p50_ms']:8.1f} {r['max_ms']:8.1f}")


if __name__ == "__main__":
    main()
