"""`python -m pmle` runs the command line."""

from pmle.cli import main

main()
