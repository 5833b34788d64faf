"""The floor for racelab's generator: a bare aiohttp loop, no plan, no stats, no history."""

import asyncio
import sys
import time

import aiohttp


async def user(session, url: str, deadline: float, counter: list) -> None:
    """GET url in a loop until the deadline."""
    while time.monotonic() < deadline:
        async with session.get(url) as response:
            await response.read()
        counter[0] += 1


async def main(url: str, vus: int, seconds: float) -> None:
    """Run vus users for seconds; print the request count."""
    counter = [0]
    connector = aiohttp.TCPConnector(limit=vus)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(user(session, url, deadline, counter) for _ in range(vus)))
    print(counter[0])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
