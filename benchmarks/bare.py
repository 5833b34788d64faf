"""The generator benchmark's bare baselines: the fixed endpoint every tool loads, and the
floors for racelab's generator (a bare aiohttp loop) and its own client (a bare loop on
loadtests.fasthttp), no plan, no stats, no history.

    python -m benchmarks.bare server PORT
    python -m benchmarks.bare aiohttp|fasthttp URL VUS SECONDS    (prints the request count)

Each role imports only its own library: a loop's CPU is what the benchmark measures, and an
import the loop does not use would count in it.
"""

import asyncio
import sys
import time

BODY = b'{"items":[{"sku":"sku-1","stock":1000}]}'


def serve(port: int) -> None:
    """Serve GET /items, always the same bytes, on 127.0.0.1:port until killed."""
    from aiohttp import web

    async def items(_request):
        return web.Response(body=BODY, content_type="application/json")

    app = web.Application()
    app.router.add_get("/items", items)
    # A deep accept queue: thousands of users connecting in the same second must not be
    # dropped by the endpoint, whose cost is not what is measured.
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=4096)


async def aiohttp_loop(url: str, vus: int, seconds: float) -> int:
    """GET url from vus users in a loop for seconds on aiohttp; return the request count."""
    import aiohttp

    counter, deadline = [0], time.monotonic() + seconds

    async def user(session) -> None:
        while time.monotonic() < deadline:
            async with session.get(url) as response:
                await response.read()
            counter[0] += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=vus)) as session:
        await asyncio.gather(*(user(session) for _ in range(vus)))
    return counter[0]


async def fasthttp_loop(url: str, vus: int, seconds: float) -> int:
    """GET /items from vus users in a loop for seconds on loadtests.fasthttp; return the count."""
    from loadtests.fasthttp import Pool

    counter, deadline, pool = [0], time.monotonic() + seconds, Pool(url, 5.0)

    async def user() -> None:
        while time.monotonic() < deadline:
            await pool.request("GET", "/items")
            counter[0] += 1

    await asyncio.gather(*(user() for _ in range(vus)))
    pool.close()
    return counter[0]


LOOPS = {"aiohttp": aiohttp_loop, "fasthttp": fasthttp_loop}

if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve(int(sys.argv[2]))
    else:
        loop = LOOPS[sys.argv[1]]
        print(asyncio.run(loop(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))))
