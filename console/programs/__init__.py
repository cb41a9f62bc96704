"""Recall programs (issue #14): a stepped win-back ladder run as a system — spec (the TOML file), store (tables and
status), runner (one run: exits, entrants, due steps, dispatch through the campaign pipeline), funnel (measuring).
See docs/programs.md."""
