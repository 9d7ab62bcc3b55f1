"""``python -m metareview``: the command line, as the ``metareview`` script runs it."""

import sys

from .cli import main

sys.exit(main())
