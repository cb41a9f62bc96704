"""The winback console: a Textual app, one screen per module with its .tcss beside it.

Screens call `console` services from thread workers; nothing on the event loop touches SQLite.
"""
