"""Corrections to typer 0.29's rich `--help`, so that help reads as the command line behaves.

- A flag is shown without a type: typer writes `--dry-run <bool>`, which reads as if the flag wanted a value
  (`--dry-run true` is refused). Options that take a value keep theirs (`<int>`, `<path>`).
- A docstring paragraph is one text, rewrapped to the terminal: typer keeps the source's single line breaks, so
  at 80 columns a paragraph wrapped at 110 in the source came out as ragged short lines. This is click's rule (and
  typer's before 0.29): lines of a paragraph are joined; a paragraph starting with \\b keeps its lines. The same
  for each command's line in a group's list of commands.
- The usage line names arguments in capitals (`FILE`, `[OFFER]`) as the docs do; typer writes `{file}`, which in
  shell usage reads as "one of".
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from typer import rich_utils
from typer.core import TyperArgument, TyperOption

if TYPE_CHECKING:
    from rich.markdown import Markdown
    from rich.text import Text
    from typer._click import Context as ClickContext

_option_type = getattr(TyperOption, "display_type_rich", None)


def _flag_takes_no_value(self: TyperOption, ctx: ClickContext) -> str | None:
    if self.is_flag or self.count or _option_type is None:
        return None
    return _option_type(self, ctx)


def _join_paragraph_lines(paragraphs: list[str], markup_mode: str) -> str:
    if markup_mode == rich_utils.MARKUP_MODE_MARKDOWN:
        return "\n\n".join(paragraphs)
    kept = [p.strip("\b\n") if p.startswith("\b") else " ".join(p.split("\n")) for p in paragraphs]
    return "\n\n".join(kept)


_command_help = getattr(rich_utils, "_make_command_help", None)


def _command_help_in_one_line(*, help_text: str, markup_mode: rich_utils.MarkupModeStrict) -> Text | Markdown:
    """A group's list of commands shows each one's first paragraph: joined too, unless it starts with \\b."""
    first, _, rest = inspect.cleandoc(help_text).partition("\n\n")
    if not first.startswith("\b"):
        first = " ".join(first.split("\n"))
    assert _command_help is not None   # installed only where typer has it
    return _command_help(help_text=f"{first}\n\n{rest}" if rest else first, markup_mode=markup_mode)


def _usage_name(self: TyperArgument) -> str:
    """`FILE`, `[OFFER]`, `FILES...` in the usage line, as the docs and click write them (typer 0.29: `{file}`)."""
    name = self.display_name_raw if self.metavar is not None else self.display_name_raw.upper()
    name = name if self.required else f"[{name}]"
    return f"{name}..." if self.nargs != 1 else name


def install() -> None:
    """Called once when `console.cli` is imported, before any help is printed. These are typer's private hooks
    (pyproject allows any typer >= 0.29): each is replaced only where it exists, so a typer that renamed one keeps
    its own help layout there — tests/test_cli_first_contact.py then says which — and the CLI still runs."""
    if hasattr(TyperOption, "display_type_rich"):
        TyperOption.display_type_rich = _flag_takes_no_value  # type: ignore[method-assign]
    if hasattr(rich_utils, "_fix_linebreaks"):
        rich_utils._fix_linebreaks = _join_paragraph_lines
    if _command_help is not None:
        rich_utils._make_command_help = _command_help_in_one_line
    if hasattr(TyperArgument, "_usage_display_name"):
        TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]
