"""``python -m gnnedu.rating [run|tune]``: see ``gnnedu.rating.protocol``."""

import sys

from gnnedu.rating.protocol import main

sys.exit(main())
