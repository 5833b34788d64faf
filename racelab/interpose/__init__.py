"""Interposition: a server's own I/O, seen (and held) from outside it.

Files: `disk` and `tree` model a disk with its own page cache (strict POSIX durability),
`fs` serves one through FUSE with a hook on every operation, `mount` runs that in a
process, and `holds` is the channel by which that hook asks racelab before each file
operation that is a pause point. SQL: `pgwire` and `pgproxy` are a PostgreSQL proxy that
sees each statement, `pgattribution` names the stepped session each belongs to, and
`pglocks` sees a released statement wait for a lock. `stepped` puts them in front of a
server `racelab step --external` runs.
"""
