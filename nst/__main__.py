"""`python -m nst` is the `nst` command."""

import sys

from nst.cli import main

sys.exit(main())
