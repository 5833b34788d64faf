"""The points a server's create passes, learned by running one alone: for a reproduction
(`racelab check --repro --external`) written in that server's own points."""

from racelab.explore.drive import driver
from racelab.explore.engine import learn
from racelab.explore.requests import build_spec
from racelab.step.scheduler import BLOCK_WAIT_S

AMPLE_STOCK = 100  # as a reproduction's setup has: the create is not refused for stock


def create_points(target, block_wait: float = BLOCK_WAIT_S, files: bool = False) -> tuple:
    """Return the points one create passes on target, alone on a fresh store, as steps a
    spec can name; raise NothingToInterleave if it passes none."""
    spec = build_spec(["A: create sku-1 1"], f"skus=1,stock={AMPLE_STOCK}")
    with driver(target, block_wait, files) as chosen:
        return tuple(learn(spec, chosen.run, lambda text: None)["A"])
