"""A fast fixed endpoint for measuring load generators: GET /items, always the same bytes."""

import sys

from aiohttp import web

BODY = b'{"items":[{"sku":"sku-1","stock":1000}]}'


async def items(_request):
    """Answer with the fixed body."""
    return web.Response(body=BODY, content_type="application/json")


def main(port: int) -> None:
    """Serve on 127.0.0.1:port until killed."""
    app = web.Application()
    app.router.add_get("/items", items)
    # A deep accept queue: thousands of users connecting in the same second must not be
    # dropped by the endpoint, whose cost is not what is measured.
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=4096)


if __name__ == "__main__":
    main(int(sys.argv[1]))
