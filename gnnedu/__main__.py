import sys

from gnnedu.cli import main

sys.exit(main())
