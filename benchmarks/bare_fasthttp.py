"""The floor for racelab's own client: a bare loop on loadtests.fasthttp, no plan or history."""

import asyncio
import sys
import time

from loadtests.fasthttp import Pool


async def user(pool: Pool, deadline: float, counter: list) -> None:
    """GET /items in a loop until the deadline."""
    while time.monotonic() < deadline:
        await pool.request("GET", "/items")
        counter[0] += 1


async def main(url: str, vus: int, seconds: float) -> None:
    """Run vus users for seconds; print the request count."""
    counter, pool = [0], Pool(url, 5.0)
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(user(pool, deadline, counter) for _ in range(vus)))
    pool.close()
    print(counter[0])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
