"""``python -m simperium_orm``: the same as the ``simperium-orm`` command."""

import sys

from simperium_orm.cli import main

if __name__ == "__main__":
    sys.exit(main())
