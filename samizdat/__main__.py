"""`python -m samizdat` runs the command line."""

from samizdat.cli import main

main()
