"""``python -m certify.cli``: the ``certify`` command."""

import sys

from certify.cli.main import main

sys.exit(main())
