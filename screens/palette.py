"""The command palette (ctrl+p): every screen, and every action of the screen it was opened from, by name."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from screens.base import NAV_KEYS
from screens.host import ConsoleHost
from screens.programs import choose_program, new_program


class WinbackCommands(Provider):
    """Go to any screen; run any action bound on the current screen; plus what the screen itself offers."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app = cast(ConsoleHost, self.app)  # the palette is WinbackApp's (COMMANDS)
        screen = self.screen
        commands: list[tuple[str, str, Callable[[], Any]]] = []
        # The operator's main actions, from any screen: the same code as the keys on their own screens.
        commands += [
            ("Find a person…", f"key {app.key_for('find', 'w')}: by external id, phone, last four digits + name, "
                               "email or name",
             app.action_find_person),
            ("Import users/events…", f"key {app.key_for('import', 'i')}: a file, with a saved mapping of "
                                     "winback.toml; shows both phases", app.action_import_file),
            ("New segment", "Segments, then n: the rule editor counts as you type", app.new_segment),
            ("New campaign", "Campaigns, then n: the creation flow", app.new_campaign),
            ("Refresh profiles and layers", f"Overview, key {app.key_for('overview.refresh', 'R')}: as `winback "
             "refresh` (after an import); shows its steps and result", app.refresh_profiles),
            ("Retire an offer…", "Offers: choose one; asks first, naming the layers it is mapped to",
             app.retire_offer),
            ("Launch a campaign (dry run)…", "choose a draft; records everything, sends nothing",
             partial(app.choose_campaign, "launch")),
            ("Pause a running campaign…", "choose one; it stops within a batch", partial(app.choose_campaign, "pause")),
            ("Resume a paused campaign…", "choose one; it sends on from its ledger",
             partial(app.choose_campaign, "resume")),
            ("Cancel a running campaign…", "choose one; asks before cancelling", partial(app.choose_campaign, "cancel")),
            ("Open a program…", "a recall program's page: its steps, pause / resume / stop",
             partial(choose_program, app)),
            ("New program", "Programs, then n: the program file, checked as you type", partial(new_program, app)),
        ]
        for name, (key, label) in NAV_KEYS.items():
            commands.append((f"Go to {label}", f"key {app.key_for(f'goto.{name}', key)}",
                             partial(app.run_action, f"goto('{name}')")))
        screen_label = getattr(screen, "LABEL", type(screen).__name__)
        for active in screen.active_bindings.values():
            binding = active.binding
            if not active.enabled or not binding.description or binding.action.startswith("app."):
                continue
            # winback's own bindings carry ids; a widget's cursor keys (no id) are not actions worth a name.
            if not binding.id or binding.id.startswith(("goto.", "dialog.", "help.")) or active.node is app:
                continue
            key = binding.key_display or binding.key
            commands.append((f"{screen_label}: {binding.tooltip or binding.description}", f"key {key}",
                             partial(app.run_action, binding.action, active.node)))
        offered = getattr(screen, "palette_commands", None)
        if offered is not None:
            for name, help_text, callback in offered():
                commands.append((f"{screen_label}: {name}", help_text, callback))
        commands.append(("Help: keys in force", "key ?", partial(app.run_action, "help")))
        return commands

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
