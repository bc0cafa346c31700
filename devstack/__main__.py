"""`python -m devstack ...`: the local stack's command line."""

import sys

from devstack.cli import main

sys.exit(main())
