import sys

from ibterm.cli.main import main

sys.exit(main())
