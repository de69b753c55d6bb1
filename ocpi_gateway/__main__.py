"""``python -m ocpi_gateway`` = ``ocn-node``."""

import sys

from ocpi_gateway.cli import main

sys.exit(main())
