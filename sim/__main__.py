"""``python -m sim`` is the ``fleetsim`` command."""
import sys

try:
    from sim.cli import main
except KeyboardInterrupt:       # (Ctrl-C while Python reads the package: said as the command says it)
    sys.stderr.write("interrupted\n")
    sys.exit(130)

sys.exit(main())
