from __future__ import annotations

import sys

from pi_indi.cli import main

sys.exit(main())
