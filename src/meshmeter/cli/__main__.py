"""``python -m meshmeter.cli``: the same as the ``meshmeter`` command."""

from meshmeter.cli import main

main()
