"""The desktop application (PySide6). Qt lives only in this package: pages call the same
services as the command line, through background tasks, and hold no business rules."""
