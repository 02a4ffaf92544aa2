"""Run the periodic tasks of CELERY_BEAT_SCHEDULE in this process.

The embedded default has no broker and so no Celery beat; ``make run`` starts this
beside the web server so that registries are still crawled on their schedule.
Tasks run on this process's in-process threads (see portal/celery.py).
"""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.celery import app

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the Celery beat schedule in-process (embedded default only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Enqueue every task once and exit."
        )

    def handle(self, *args, once=False, **options):
        if settings.REDIS_URL:
            raise CommandError(
                "REDIS_URL is set: run Celery beat instead (make worker)."
            )
        app.loader.import_default_modules()
        schedule = {
            name: (entry["task"], float(entry["schedule"]))
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        }
        unknown = sorted(task for task, _ in schedule.values() if task not in app.tasks)
        if unknown:
            raise CommandError(f"Unknown tasks in CELERY_BEAT_SCHEDULE: {unknown}")
        due = dict.fromkeys(schedule, 0.0)
        self.stdout.write(f"Running {len(schedule)} periodic task(s) in-process.")
        while True:
            now = time.monotonic()
            for name, (task, every) in schedule.items():
                if now >= due[name]:
                    due[name] = now + every
                    try:
                        app.tasks[task].apply_async()
                    except Exception:  # keep the schedule alive; the log says why
                        logger.exception("Periodic task %s could not be started", task)
            if once:
                # Let the in-process threads finish what was just started.
                from portal.celery import wait_for_in_process_tasks

                wait_for_in_process_tasks()
                return
            time.sleep(1)
