"""Allow `python -m racelab`."""

from racelab.cli import main

main()
