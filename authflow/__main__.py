import sys

from authflow.cli import main

sys.exit(main())
