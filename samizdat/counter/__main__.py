"""`python -m samizdat.counter` is `samizdat counter`."""

from samizdat.counter.command import counter

counter(prog_name="samizdat counter")
