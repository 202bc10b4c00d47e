"""`python -m glacierable_cli`: the `glacierable` command, for environments without its script on PATH."""

import sys

from glacierable_cli.main import main

sys.exit(main())
