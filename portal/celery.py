"""The Celery application; configuration comes from Django settings (CELERY_*).

With no broker configured (the embedded default), ``apply_async`` runs tasks on a
small in-process thread pool, so a request that enqueues work still answers at
once. ``PORTAL_INPROCESS_THREADS = 0`` runs them synchronously instead (tests).
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from celery import Celery, Task
from celery.contrib.django.task import DjangoTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _in_process_executor(threads: int) -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(threads, thread_name_prefix="portolan-task")
        return _executor


def wait_for_in_process_tasks() -> None:
    """Block until the in-process threads have run everything, follow-ups included.

    A task may enqueue further tasks (a schedule tick starts crawls): those land on
    a fresh pool, which is waited for in turn.
    """
    global _executor
    while True:
        with _executor_lock:
            executor, _executor = _executor, None
        if executor is None:
            return
        executor.shutdown(wait=True)


def _run_in_thread(task: Task, args, kwargs, options) -> None:
    from django.db import close_old_connections

    close_old_connections()
    try:
        task.apply(args=args, kwargs=kwargs, **options)
    finally:
        close_old_connections()


class PortalTask(DjangoTask):
    """A task that, without a broker, runs in the background of this process.

    As a ``DjangoTask`` it also offers ``delay_on_commit``.
    """

    abstract = True

    def apply_async(self, args=None, kwargs=None, task_id=None, **options):
        from django.conf import settings

        threads = getattr(settings, "PORTAL_INPROCESS_THREADS", 0)
        if self.app.conf.task_always_eager and threads > 0:
            from celery.utils import uuid

            task_id = task_id or uuid()
            options.pop("countdown", None)
            options.pop("eta", None)
            _in_process_executor(threads).submit(
                _run_in_thread, self, args, kwargs, {**options, "task_id": task_id}
            )
            return self.AsyncResult(task_id)
        return super().apply_async(args, kwargs, task_id=task_id, **options)


app = Celery("portal", task_cls=PortalTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
