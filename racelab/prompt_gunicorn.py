"""gunicorn without the waits a short-lived target pays at every start and stop.

A compare starts and stops a server per target; these pauses were a sixth of its time.
"""

from gunicorn.arbiter import Arbiter
from gunicorn.workers.gthread import ThreadWorker

from racelab.process_exit import exit_now


class PromptArbiter(Arbiter):
    """gunicorn's arbiter, spawning every worker at once.

    gunicorn sleeps up to 0.1 s between spawns; with the app preloaded a fork is ready at
    once, so the stagger only delays the moment every worker serves.
    """

    def spawn_workers(self):
        for _ in range(self.num_workers - len(self.WORKERS)):
            self.spawn_worker()


class PromptExitThreadWorker(ThreadWorker):
    """gunicorn's gthread worker; once its graceful stop is done, it exits at once."""

    def run(self):
        super().run()  # returns when every request in flight is answered and closed
        exit_now(0)
