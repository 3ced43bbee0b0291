"""``python -m sim`` is the ``fleetsim`` command."""
import sys

from sim.cli import main

sys.exit(main())
