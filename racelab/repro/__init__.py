"""From a failing run to the fewest requests that explain each anomaly, replayed by step."""
