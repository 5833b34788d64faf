"""racelab's benchmarks: `make bench` (python -m benchmarks)."""
