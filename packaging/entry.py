"""Entry point of the frozen program (PyInstaller): the `homeward` command.

freeze_support() comes first: the scan's worker processes are spawned by re-running this
executable, and must become workers instead of a second `homeward` command.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from desktop.cli import main

    sys.exit(main())
