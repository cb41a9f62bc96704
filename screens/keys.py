"""`[keys]` in winback.toml: an operator's own keys for the console's bindings, by binding id.

```toml
[keys]
"goto.segments" = "S"          # Segments on shift+s instead of s
find = "ctrl+f"                # find a person
"campaigns.launch" = "l,f5"    # several keys: comma-separated
```

Every winback binding has a stable id (`?` lists the keys in force; docs/console.md lists the ids). The map is
Textual's keymap (App.set_keymap): the footer and `?` show the keys in force. Unknown ids and values that are not
text are reported naming the file and field; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.binding import Binding

from screens import dialogs, help, table_filter, widgets
from screens.areas import area_screens
from screens.base import ListFilter
from screens.host import ConsoleHost
from screens.new_campaign import NewCampaignScreen
from screens.person import PersonScreen
from screens.programs import ProgramEditorScreen, ProgramPage
from screens.segment_editor import SegmentEditorScreen


def _binding_ids(classes: Iterable[type]) -> set[str]:
    ids: set[str] = set()
    for cls in classes:
        for klass in cls.__mro__:
            for binding in klass.__dict__.get("BINDINGS", []) + klass.__dict__.get("FILTER_BINDINGS", []):
                if isinstance(binding, Binding) and binding.id:
                    ids.add(binding.id)
    return ids


def known_ids() -> set[str]:
    """Every binding id of the console: the app's, each screen's, dialogs', widgets'."""
    classes: list[type] = [ConsoleHost, ListFilter, PersonScreen, NewCampaignScreen, SegmentEditorScreen,
                           help.HelpScreen, widgets.HeatMap, table_filter.FilterInput, ProgramPage, ProgramEditorScreen]
    classes += list(area_screens().values())
    classes += [c for c in vars(dialogs).values() if isinstance(c, type) and "BINDINGS" in c.__dict__]
    return _binding_ids(classes)


def keymap_from_config(raw: dict[str, Any], where: str) -> tuple[dict[str, str], list[str]]:
    """The keymap in `[keys]` of the parsed winback.toml, and what is wrong with it (in words, by field)."""
    table = raw.get("keys")
    if table is None:
        return {}, []
    if not isinstance(table, dict):
        return {}, [f"{where}: [keys] must be a table of binding id = \"key\""]
    known = known_ids()
    keymap: dict[str, str] = {}
    problems: list[str] = []
    for binding_id, keys in table.items():
        if binding_id not in known:
            near = sorted(k for k in known if k.split(".")[-1] == binding_id.split(".")[-1])
            hint = f" (did you mean {', '.join(near)}?)" if near else " (docs/console.md lists the ids)"
            problems.append(f"{where}: [keys] {binding_id!r} is not a binding id{hint}")
            continue
        if not isinstance(keys, str) or not keys.strip():
            problems.append(f"{where}: [keys] {binding_id} = {keys!r}: give the key as text, e.g. \"ctrl+f\"")
            continue
        keymap[binding_id] = ",".join(k.strip() for k in keys.split(","))
    return keymap, problems


class OperatorKeys(ConsoleHost):
    """Mixed into WinbackApp: loads `[keys]`, says what is wrong with it once the console is up, and tells the
    screens which key a binding id has now."""

    _key_problems: list[str]
    _clashes_noticed: set[str]

    def load_keys(self, raw: dict[str, Any], where: str) -> None:
        """Apply `[keys]` of the parsed winback.toml; its problems are said by `say_key_problems` (on mount)."""
        keymap, self._key_problems = keymap_from_config(raw, where)
        self._clashes_noticed = set()
        if keymap:
            self.set_keymap(keymap)

    def say_key_problems(self) -> None:
        for problem in self._key_problems:
            self.notify(problem, title="winback.toml [keys]", severity="warning", timeout=12)

    def key_for(self, binding_id: str, default: str) -> str:
        """The key in force for a binding id, as the operator reads it ([keys] may have remapped it)."""
        return self._keymap.get(binding_id, default)

    def handle_bindings_clash(self, clashed_bindings: set[Binding], node: Any) -> None:
        """A key given in [keys] that a built-in binding had: [keys] wins; say which action lost its key, once."""
        for binding in clashed_bindings:
            text = (f"[keys]: {binding.key} now does what winback.toml says; "
                    f"{binding.description or binding.id} ({binding.id}) has no key there")
            if text not in self._clashes_noticed:
                self._clashes_noticed.add(text)
                self.notify(text, title="winback.toml [keys]", severity="warning", timeout=12)
