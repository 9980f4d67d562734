"""Make ``python -m unmute_server`` the same program as ``unmute-server``."""

import sys

from unmute_server.cli import main

sys.exit(main())
