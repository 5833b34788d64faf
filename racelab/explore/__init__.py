"""`racelab explore`: learn each session's pause points, then run its interleavings for you.

`requests` turns the command line's requests into a step spec, `schedules` chooses the
interleavings (all, or a seeded sample favouring few preemptions), `drive` runs them on a
stepped server, `engine` ties those together, `output` formats and writes what was found.
"""
