"""The pure core: deterministic Python with no I/O.

Nothing in this package may read the clock, draw random numbers, touch the network or the
file system, or depend on set/dict iteration order for anything that shapes a revision.
"""
