"""``python -m metrics.cli``: the ``servicewatch`` command line."""

import sys

from metrics.cli.main import main

sys.exit(main())
