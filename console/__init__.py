"""winback domain services: everything the CLI and the console (screens/) call.

Services know nothing of Textual; they call `storage` for SQL.
"""

__version__ = "0.1.0"
