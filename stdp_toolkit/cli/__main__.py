"""``python -m stdp_toolkit.cli``: the same as the ``stdp-toolkit`` command."""
import sys

from . import main

sys.exit(main())
