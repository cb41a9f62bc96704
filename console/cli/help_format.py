"""Corrections to typer 0.29's rich `--help`, so that help reads as the command line behaves.

- A flag is shown without a type: typer writes `--dry-run <bool>`, which reads as if the flag wanted a value
  (`--dry-run true` is refused). Options that take a value keep theirs (`<int>`, `<path>`); a repeatable one
  shows one value's (`--channel <str>`, not `<list[str]>`).
- A docstring paragraph is one text, rewrapped to the terminal: typer keeps the source's single line breaks, so
  at 80 columns a paragraph wrapped at 110 in the source came out as ragged short lines. This is click's rule (and
  typer's before 0.29): lines of a paragraph are joined; a paragraph starting with \\b keeps its lines. The same
  for each command's line in a group's list of commands.
- The usage line names arguments in capitals (`FILE`, `[OFFER]`) as the docs do; typer writes `{file}`, which in
  shell usage reads as "one of".
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

if TYPE_CHECKING:
    from rich.markdown import Markdown
    from rich.text import Text
    from typer._click import Context as ClickContext
    from typer._click import HelpFormatter
    from typer.rich_utils import MarkupModeStrict

_option_type = getattr(TyperOption, "display_type_rich", None)
# typer's own _make_command_help, kept when the one-line version replaces it (install_in_rich_utils)
_command_help: Callable[..., Text | Markdown] | None = None


def _flag_takes_no_value(self: TyperOption, ctx: ClickContext) -> str | None:
    if self.is_flag or self.count or _option_type is None:
        return None
    shown = _option_type(self, ctx)
    # A repeatable option takes one value each time: typer's `<list[str]>` reads as if it took a list.
    if self.multiple and shown and shown.startswith("<list[") and shown.endswith("]>"):
        return f"<{shown[len('<list['):-len(']>')]}>"
    return shown


def _join_paragraph_lines(paragraphs: list[str], markup_mode: str) -> str:
    from typer import rich_utils  # loaded already: only rich_utils calls this

    if markup_mode == rich_utils.MARKUP_MODE_MARKDOWN:
        return "\n\n".join(paragraphs)
    kept = [p.strip("\b\n") if p.startswith("\b") else " ".join(p.split("\n")) for p in paragraphs]
    return "\n\n".join(kept)


def _command_help_in_one_line(*, help_text: str, markup_mode: MarkupModeStrict) -> Text | Markdown:
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
    its own help layout there — tests/test_cli_first_contact.py then says which — and the CLI still runs.

    The two in typer.rich_utils are put in when help is first drawn, not here: importing rich_utils (with
    rich.markdown and markdown_it) is ~40 ms of a ~180 ms start that no command but `--help` needs
    (tests/test_cli_start.py)."""
    if hasattr(TyperOption, "display_type_rich"):
        TyperOption.display_type_rich = _flag_takes_no_value  # type: ignore[method-assign]
    if hasattr(TyperArgument, "_usage_display_name"):
        TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]
    for cls in (TyperCommand, TyperGroup):   # every command and group typer builds is one of these
        if not getattr(cls.format_help, "_installs_rich_utils", False):
            cls.format_help = _rich_utils_first(cls.format_help)  # type: ignore[method-assign]


def _rich_utils_first(format_help: Callable[..., None]) -> Callable[..., None]:
    """typer's format_help (which imports rich_utils and draws the help with it), preceded by our changes to it."""
    def format_help_with_corrections(self: Any, ctx: ClickContext, formatter: HelpFormatter) -> None:
        install_in_rich_utils()
        format_help(self, ctx, formatter)

    format_help_with_corrections._installs_rich_utils = True  # type: ignore[attr-defined]
    return format_help_with_corrections


def install_in_rich_utils() -> None:
    """Put the paragraph and command-list corrections into typer.rich_utils (once; importing it if need be)."""
    global _command_help
    from typer import rich_utils  # rich is one of winback's own dependencies: typer always draws help with it

    if hasattr(rich_utils, "_fix_linebreaks"):
        rich_utils._fix_linebreaks = _join_paragraph_lines
    current = getattr(rich_utils, "_make_command_help", None)
    if current is not None and current is not _command_help_in_one_line:
        _command_help = current
        rich_utils._make_command_help = _command_help_in_one_line
