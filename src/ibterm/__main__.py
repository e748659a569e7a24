import sys

from ibterm.cli import main

sys.exit(main())
