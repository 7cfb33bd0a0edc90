"""`python -m leadpipe` is the `leadpipe` command."""

from leadpipe.cli import main

main()
