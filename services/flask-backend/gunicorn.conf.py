# gunicorn settings from the environment, so the task definition tunes them without a rebuild.
# Identical in every service image; tests/apps checks the copies match.
import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


bind = f"{os.environ.get('BIND_HOST', '').strip() or '0.0.0.0'}:{_int('PORT', 8080)}"

# Threads, because requests spend their time waiting on other services, not on the CPU.
worker_class = "gthread"
workers = _int("GUNICORN_WORKERS", 2)
threads = _int("GUNICORN_THREADS", 4)
# A silent worker process is restarted after this long.
timeout = _int("GUNICORN_TIMEOUT", 30)
# On SIGTERM (ECS StopTask) in-flight requests get this long to finish; keep it below the
# container's stopTimeout (45 s in DiscoverableFargateService) so gunicorn, not SIGKILL, ends the task.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 20)
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Heartbeat files on tmpfs: works with a read-only root filesystem and never blocks on disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicorn >= 25.1 would otherwise create a control socket under $HOME: a write outside
# /dev/shm, and a clash between several servers run by one user.
control_socket_disable = True

# The app writes its own JSON line per request to stdout; gunicorn's messages go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
