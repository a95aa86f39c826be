"""Bounds of the local run, shared by the parts that must agree on them (the command line, the
control channel, the scheduler): one definition each."""

__all__ = ["MAX_GUNICORN_WORKERS", "MAX_TASKS_PER_SERVICE"]

#: A service never runs more tasks than this, whatever the template, --tasks or a scale asks.
MAX_TASKS_PER_SERVICE = 50
#: gunicorn worker processes per task (--gunicorn-workers): with 50 tasks a service, still a bounded
#: number of processes on one machine.
MAX_GUNICORN_WORKERS = 8
