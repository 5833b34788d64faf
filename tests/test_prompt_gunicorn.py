"""racelab/prompt_gunicorn.py: gunicorn's arbiter without the stagger between worker spawns.

PromptArbiter overrides Arbiter.spawn_workers, which gunicorn does not document; pyproject.toml
bounds gunicorn below its next major version, and these tests hold the override to gunicorn's
own loop, so an upgrade that changes it fails here, not in a compare.
"""

import inspect

from gunicorn.arbiter import Arbiter

from racelab.prompt_gunicorn import PromptArbiter


def test_gunicorn_still_spawns_workers_in_the_loop_the_override_replaces():
    source = inspect.getsource(Arbiter.spawn_workers)
    assert "for _ in range(self.num_workers - len(self.WORKERS)):" in source
    assert "self.spawn_worker()" in source
    assert "time.sleep(0.1 * random.random())" in source  # the stagger PromptArbiter drops


def test_the_prompt_arbiter_spawns_every_missing_worker_and_no_more():
    arbiter = object.__new__(PromptArbiter)  # no app, no config: only the spawn loop runs
    arbiter._num_workers = 4  # what gunicorn's num_workers property reads
    arbiter.WORKERS = {1001: "already up"}
    spawned = []
    arbiter.spawn_worker = lambda: spawned.append(len(spawned) + 1)  # gunicorn's, not ours
    arbiter.spawn_workers()
    assert spawned == [1, 2, 3]
    assert arbiter.num_workers == 4
