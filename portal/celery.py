"""The Celery application; configuration comes from Django settings (CELERY_*).

With no broker configured (the embedded default), ``apply_async`` runs tasks on a
small in-process thread pool, so a request that enqueues work still answers at
once; a ``countdown``/``eta`` (retries included) waits on a timer thread first,
as a worker would. A task still waiting is lost if the process stops; for
crawls the schedule notices and queues them again. ``PORTAL_INPROCESS_THREADS
= 0`` runs them synchronously instead (tests).
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from celery import Celery, Task
from celery.contrib.django.task import DjangoTask
from celery.exceptions import Retry

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
    a fresh pool, which is waited for in turn. Tasks still waiting for their
    countdown (a retry an hour away) are not waited for.
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


def _delay(countdown, eta) -> float:
    """Return the seconds to wait before running, from ``countdown`` or ``eta``."""
    if isinstance(eta, datetime):
        return max(0.0, (eta - datetime.now(eta.tzinfo)).total_seconds())
    return max(0.0, float(countdown or 0))


def _submit_in_process(threads: int, task: Task, args, kwargs, options) -> None:
    _in_process_executor(threads).submit(_run_in_thread, task, args, kwargs, options)


class PortalTask(DjangoTask):
    """A task that, without a broker, runs in the background of this process.

    As a ``DjangoTask`` it also offers ``delay_on_commit``.
    """

    abstract = True

    def _in_process_threads(self) -> int:
        from django.conf import settings

        if not self.app.conf.task_always_eager:
            return 0
        return getattr(settings, "PORTAL_INPROCESS_THREADS", 0)

    def apply_async(self, args=None, kwargs=None, task_id=None, **options):
        threads = self._in_process_threads()
        if threads > 0:
            from celery.utils import uuid

            task_id = task_id or uuid()
            delay = _delay(options.pop("countdown", None), options.pop("eta", None))
            run = (threads, self, args, kwargs, {**options, "task_id": task_id})
            if delay > 0:
                timer = threading.Timer(delay, _submit_in_process, run)
                timer.daemon = True
                timer.start()
            else:
                _submit_in_process(*run)
            return self.AsyncResult(task_id)
        return super().apply_async(args, kwargs, task_id=task_id, **options)

    def retry(
        self,
        args=None,
        kwargs=None,
        exc=None,
        throw=True,
        eta=None,
        countdown=None,
        max_retries=None,
        **options,
    ):
        """Retry after ``countdown`` on the in-process threads, as a worker would.

        Celery's eager retry runs the task again at once, which would turn a
        registry's "come back in 15 minutes" into a tight loop.
        """
        request = self.request
        if not (request.is_eager and self._in_process_threads() > 0):
            return super().retry(
                args, kwargs, exc, throw, eta, countdown, max_retries, **options
            )
        max_retries = self.max_retries if max_retries is None else max_retries
        if max_retries is not None and request.retries >= max_retries:
            if exc is not None:
                raise exc
            raise self.MaxRetriesExceededError(
                f"Can't retry {self.name}[{request.id}] args:{request.args} "
                f"kwargs:{request.kwargs}"
            )
        if countdown is None and eta is None:
            countdown = self.default_retry_delay
        self.apply_async(
            request.args if args is None else args,
            request.kwargs if kwargs is None else kwargs,
            task_id=request.id,
            countdown=countdown,
            eta=eta,
            retries=request.retries + 1,
            **options,
        )
        retry = Retry(exc=exc, when=eta or countdown)
        if throw:
            raise retry
        return retry


app = Celery("portal", task_cls=PortalTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
