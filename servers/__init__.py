"""The two racelab targets: one HTTP contract, two stores, several strategies."""

__all__ = ["STRATEGIES", "create_app", "init_store", "open_store"]


def __getattr__(name: str):
    """Import on first use: a step client needs only servers.stepping, and no Flask."""
    if name == "create_app":
        from servers import app

        return app.create_app
    if name in ("STRATEGIES", "init_store", "open_store"):
        from servers import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'servers' has no attribute {name!r}")
