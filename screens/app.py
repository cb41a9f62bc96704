"""The console application and its entry point."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static

from console.workspace import Workspace


class WinbackApp(App):
    """The operator console."""

    TITLE = "winback"

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"winback · {self.workspace.config.workspace} · {self.workspace.db_path}", id="where")
        yield Footer()


def run_console(workspace: Workspace) -> None:
    WinbackApp(workspace).run()
