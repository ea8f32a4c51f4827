"""`python -m bot.cli`, as the tests and the worker supervisor start it."""

import sys

from bot.cli.main import main

sys.exit(main())
