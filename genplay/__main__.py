"""python -m genplay: the same as the genplay command."""

import sys

from genplay.cli import main

if __name__ == "__main__":
    sys.exit(main())
