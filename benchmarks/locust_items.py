"""The generator benchmark's Locust side: GET /items in a closed loop, no wait."""

from locust import FastHttpUser, HttpUser, constant, task


class FastItems(FastHttpUser):
    """Locust's fast (geventhttpclient) user."""

    wait_time = constant(0)

    @task
    def items(self):
        self.client.get("/items")


class SlowItems(HttpUser):
    """Locust's default (requests) user."""

    wait_time = constant(0)

    @task
    def items(self):
        self.client.get("/items")
