"""Dialogs: an error you can act on, a yes/no confirmation, and the typed-count confirmation for real sends."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.console import RenderableType
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static

DIALOG_CSS = """
{name} {{ align: center middle; background: $background 60%; }}
{name} > Vertical {{
    width: 74; max-width: 100%; height: auto; max-height: 90%;
    border: round $primary; border-title-color: $text; padding: 0 1; background: $surface;
}}
{name} .dialog-body {{ height: auto; max-height: 16; overflow-y: auto; }}
{name} .dialog-buttons {{ height: auto; align-horizontal: right; margin-top: 1; }}
{name} .dialog-buttons Button {{ margin-left: 1; min-width: 10; }}
{name} .dialog-hint {{ color: $text-muted; }}
"""


class ErrorDialog(ModalScreen[None]):
    """Shows what went wrong, in words the operator can act on. Enter or Esc closes it."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ErrorDialog") + """
    ErrorDialog > Vertical { border: round $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Close", id="dialog.close"),
    ]

    def __init__(self, title: str, message: str, hint: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Static(self.message, classes="dialog-body", id="error-message", markup=False)
            if self.hint:
                yield Static(self.hint, classes="dialog-hint", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", variant="error", id="close")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)


class InfoDialog(ModalScreen[None]):
    """Facts to read (why a recipient was or was not messaged); Enter or Esc closes it."""

    DEFAULT_CSS = DIALOG_CSS.format(name="InfoDialog") + """
    InfoDialog > Vertical { width: 100; }
    InfoDialog .dialog-body { max-height: 20; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter", "close", "Close", id="dialog.close")]

    def __init__(self, title: str, body: RenderableType) -> None:
        super().__init__()
        self.title_text = title
        self.body = body  # text, or a rich renderable laid out by its sender (a why with wrapped facts)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            box.border_subtitle = "Enter or Esc closes"
            yield Static(self.body, classes="dialog-body", id="info-body", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """Asks yes or no. `y` or Enter on Yes confirms; `n` or Esc declines."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmDialog")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="dialog.yes"),
        Binding("n,escape", "answer(False)", "No", id="dialog.no"),
    ]

    def __init__(self, title: str, body: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.yes_label = yes
        self.no_label = no

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Static(self.body, classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.no_label} (n)", id="no")
                yield Button(f"{self.yes_label} (y)", variant="warning", id="yes")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the safe answer has the focus

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class TypedConfirmDialog(ModalScreen[bool]):
    """A costly action goes ahead only when the operator types what the dialog shows; anything else keeps the
    dialog open with a note, Esc goes back without doing anything. Subclasses say what is typed and how it is read.
    """

    DEFAULT_CSS = DIALOG_CSS.format(name="TypedConfirmDialog") + """
    TypedConfirmDialog > Vertical { border: round $warning; }
    TypedConfirmDialog #typed-row { height: auto; }
    TypedConfirmDialog #typed-row Label { padding: 1 1 0 0; }
    TypedConfirmDialog #typed-note { color: $error; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Back", id="dialog.back")]
    INPUT_ID = "typed"
    INPUT_WIDTH = 16

    def __init__(self, title: str, body: str, expected: str) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.expected_text = expected

    def prompt(self) -> str:
        raise NotImplementedError

    def matches(self, typed: str) -> bool:
        raise NotImplementedError

    def refusal(self, typed: str) -> str:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Static(self.body, classes="dialog-body", markup=False)
            with Horizontal(id="typed-row"):
                yield Label(self.prompt())
                typed = Input(placeholder=self.expected_text, id=self.INPUT_ID)
                typed.styles.width = self.INPUT_WIDTH
                yield typed
            yield Static("", id="typed-note")

    def on_mount(self) -> None:
        typed = self.query_one(f"#{self.INPUT_ID}", Input)
        typed.cursor_blink = getattr(self.app, "cursor_blink", True)
        typed.focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if self.matches(event.value):
            self.dismiss(True)
        else:
            self.query_one("#typed-note", Static).update(self.refusal(event.value))

    def action_cancel(self) -> None:
        self.dismiss(False)


class TypedCountDialog(TypedConfirmDialog):
    """A costly action (a real launch) goes ahead only when the operator types the count shown.

    Thousands separators and spaces are forgiven ("4,512" counts as 4512); anything else keeps the dialog open
    with a note. Esc goes back without doing anything.
    """

    def __init__(self, title: str, body: str, expected: int, *, later: int = 0) -> None:
        super().__init__(title, body, str(expected))
        self.expected = expected
        self.later = later   # of `expected`, sent when quiet hours end (by the same run): said in the refusal

    def prompt(self) -> str:
        return f"Type {self.expected} (the whole run), Esc to go back:"

    def matches(self, typed: str) -> bool:
        return typed.replace(",", "").replace(" ", "").replace("_", "") == str(self.expected)

    def refusal(self, typed: str) -> str:
        later = (f" — {self.expected - self.later} now and {self.later} after quiet hours end"
                 if self.later else "")
        return f"{typed!r} is not {self.expected}{later}: nothing was sent. Type the number exactly, or Esc."


class FormDialog(ModalScreen["dict[str, str] | None"]):
    """A few labelled fields; Enter in the last field (or ctrl+s) submits, Esc goes back with nothing.

    `fields` are (key, label, initial value or placeholder hint). The service the answer goes to checks it and
    says what is wrong in the error dialog, so rules live in one place.
    """

    # A form taller than the terminal (New offer's 8 fields at 80x24) scrolls: the field Enter or Tab moves to is
    # scrolled into view, never typed into below the dialog's edge.
    DEFAULT_CSS = DIALOG_CSS.format(name="FormDialog") + """
    FormDialog > Vertical { overflow-y: auto; }
    FormDialog .form-row { height: auto; }
    FormDialog .form-row Label { width: 14; padding: 1 1 0 0; }
    FormDialog .form-row Input { width: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Back", id="dialog.back"),
        Binding("ctrl+s", "submit", "Save", id="dialog.save"),
    ]

    def __init__(self, title: str, fields: list[tuple[str, str, str]], *, body: str = "",
                 values: dict[str, str] | None = None, submit: str = "save") -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.body = body
        self.values = values or {}
        self.submit = submit  # what Enter in the last field does, in the hint ("find" for Find a person)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            enter = self.submit if len(self.fields) == 1 else f"next / {self.submit}"
            box.border_subtitle = f"Enter: {enter} · Esc: back"
            if self.body:
                yield Static(self.body, classes="dialog-body", markup=False)
            for key, label, hint in self.fields:
                with Horizontal(classes="form-row"):
                    yield Label(label)
                    yield Input(value=self.values.get(key, ""), placeholder=hint, id=f"field-{key}")

    def on_mount(self) -> None:
        blink = getattr(self.app, "cursor_blink", True)
        for field in self.query(Input).results():
            field.cursor_blink = blink
        self.query(Input).first().focus()

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input).results())
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self.action_submit()

    def action_submit(self) -> None:
        self.dismiss({key: self.query_one(f"#field-{key}", Input).value.strip() for key, _, _ in self.fields})

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceDialog(ModalScreen["str | None"]):
    """Pick one of a few named things (which campaign to pause…): arrows and Enter, or Esc for none."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ChoiceDialog") + """
    ChoiceDialog OptionList { height: auto; max-height: 12; border: none; padding: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Back", id="dialog.back")]

    def __init__(self, title: str, choices: list[tuple[str, str]], *, body: str = "") -> None:
        """`choices`: (value, what the operator reads)."""
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.body = body

    def compose(self) -> ComposeResult:
        from textual.widgets import OptionList
        from textual.widgets.option_list import Option

        with Vertical() as box:
            box.border_title = self.title_text
            box.border_subtitle = "Enter chooses · Esc goes back"
            if self.body:
                yield Static(self.body, classes="dialog-hint", markup=False)
            yield OptionList(*[Option(label, id=value) for value, label in self.choices], id="choices")

    def on_option_list_option_selected(self, event) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def refused_then_again(screen: Screen[object], title: str, text: str, again: Callable[[], object]) -> None:
    """A service refused what a form sent (a `failed_<key>` hook): say why in the error dialog, and on Close open
    the form again with what was typed — not an empty screen and eight fields to type again. A bug is reported by
    the app's own dialog (FetchFailed's text says so): nothing more here."""
    if text.startswith("a bug in winback"):
        return

    def closed(_: None) -> None:
        again()

    screen.app.push_screen(ErrorDialog(title, text), closed)
