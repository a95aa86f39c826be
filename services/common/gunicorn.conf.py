# gunicorn settings for every service app, from the environment, so the task definition tunes
# them without a rebuild. One copy (services/common/); each image runs it from /app/common and
# the local run from services/common, both as `gunicorn -c ../common/gunicorn.conf.py app:app`
# in the app's own folder.
import os
import re
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
# The shared modules beside this file (graceful_stop, request_log) are importable by this file,
# by the worker class and by the apps (workers are forked from this process). gunicorn's own
# `pythonpath` setting is applied only after this file has been read, too late for the import below.
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from graceful_stop import StopSettingsError, stop_seconds  # noqa: E402  (needs the path above)

_INT = re.compile(r"[0-9]{1,6}")


def _int(name: str, default: int, low: int = 1, high: int = 100_000) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not _INT.fullmatch(raw) or not low <= int(raw) <= high:
        shown = raw if len(raw) <= 20 else raw[:20] + "..."
        # One line on stderr and exit 1, instead of gunicorn's "Failed to read config file" trace.
        raise SystemExit(f"{name}={shown!r} is not valid: expected a whole number from {low} to {high}")
    return int(raw)


bind = f"{os.environ.get('BIND_HOST', '').strip() or '0.0.0.0'}:{_int('PORT', 8080, high=65535)}"

# Threads, because requests spend their time waiting on other services, not on the CPU.
# The worker class is gunicorn's gthread worker with the stop sequence of graceful_stop.py.
worker_class = "graceful_stop.DrainingThreadWorker"
workers = _int("GUNICORN_WORKERS", 2)
threads = _int("GUNICORN_THREADS", 4)
# A silent worker process is restarted after this long.
timeout = _int("GUNICORN_TIMEOUT", 30, low=0)  # 0: never
# On SIGTERM (ECS StopTask) the workers keep serving for STOP_DRAIN_SECONDS (default 15: the DNS
# TTL plus a margin), then refuse new connections and give in-flight requests
# GUNICORN_GRACEFUL_TIMEOUT (default 20) to finish. gunicorn's graceful_timeout is the master's
# limit from SIGTERM to SIGKILL of its workers, so it is the sum. Keep the sum below the container's
# stopTimeout (45 s in DiscoverableFargateService) so that gunicorn, not SIGKILL, ends the task.
try:
    drain_seconds, finish_seconds = stop_seconds(os.environ)
except StopSettingsError as error:
    raise SystemExit(str(error)) from None
graceful_timeout = drain_seconds + finish_seconds
keepalive = _int("GUNICORN_KEEPALIVE", 5, low=0)  # 0: no keep-alive

# Heartbeat files on tmpfs: works with a read-only root filesystem and never blocks on disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicorn >= 25.1 would otherwise create a control socket under $HOME: a write outside
# /dev/shm, and a clash between several servers run by one user.
control_socket_disable = True

# The app writes its own JSON line per request to stdout; gunicorn's messages go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
