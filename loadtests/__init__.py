"""racelab's load generator, load shapes, latency stats and history writer."""
