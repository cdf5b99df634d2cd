"""``python -m dcmnode`` is the ``dcmnode`` command."""

import sys

from dcmnode.cli import main

sys.exit(main())
