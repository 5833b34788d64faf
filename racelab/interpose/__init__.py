"""File interposition: a FUSE layer between a server and its store's folder.

`disk` and `tree` model a disk with its own page cache (strict POSIX durability), `fs`
serves one through FUSE with a hook on every operation, `mount` runs that in a process.
"""
