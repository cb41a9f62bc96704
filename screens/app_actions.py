"""The operator's actions that work from any screen (their keys and palette entries): find a person, import a
file, filter a table, and the main campaign verbs — each run through the screen that owns it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from screens.base import background_priority
from screens.host import ConsoleHost


class OperatorActions(ConsoleHost):
    """Mixed into WinbackApp: find a person, import, `/` filter, new segment/campaign, launch/pause/resume/cancel."""


    if TYPE_CHECKING:  # WinbackApp's navigation (screens/app.py)
        def action_goto(self, name: str) -> None: ...

    # ---- find a person, filter a table (keys that work on every screen) ------------------------------------

    def action_find_person(self) -> None:
        """w: ask who (external id, phone, last four digits and name, email or name), then open their page."""
        from screens.dialogs import FormDialog

        def answered(values: dict[str, str] | None) -> None:
            if values and values.get("who"):
                self.find_person(values["who"])

        self.push_screen(FormDialog(
            "Find a person", [("who", "Who", "external id, phone, email, name, or 5678 + name")],
            body="Phone: the whole number, or its last four digits with the name (5678 王).", submit="find"), answered)

    def find_person(self, text: str) -> None:
        """Look `text` up in a thread worker: one match opens the person's page, several ask which."""
        from screens.dialogs import ChoiceDialog
        from screens.person import find_people

        workspace = self.workspace

        def load() -> None:
            background_priority()
            db = workspace.open()
            try:
                found = find_people(db, workspace.config, text)
            finally:
                db.close()
            if not found:
                self.call_from_thread(self.notify, f"Nobody matches {text!r}.", title="Find a person",
                                      severity="warning")
            elif len(found) == 1:
                self.call_from_thread(self.open_person, found[0]["user"])
            else:
                choices = [(p["user"], f"{p['user']} · {p['name'] or '—'} · {p['phone'] or '—'} · "
                                       f"{p['email'] or '—'} · {p['layer'] or 'no layer'}") for p in found]
                self.call_from_thread(self.push_screen, ChoiceDialog(f"{len(found)} people match {text!r}",
                                                                     choices), self._chosen_person)

        self.run_worker(load, name="find_person", group="app:find", thread=True, exclusive=True,
                        exit_on_error=False)

    def _chosen_person(self, user: str | None) -> None:
        if user:
            self.open_person(user)

    def open_person(self, user: str) -> None:
        """Push the person's page over the current screen (Esc comes back here)."""
        from screens.person import PersonScreen

        self.push_screen(PersonScreen(user))

    def action_import_file(self) -> None:
        """i: import users or events from a file, with a saved mapping (screens/import_screen.py)."""
        from screens.import_screen import ImportScreen

        if not isinstance(self.screen, ImportScreen):
            self.push_screen(ImportScreen())

    def action_filter_table(self) -> None:
        """/: filter the rows of the table that has the focus (screens.table_filter)."""
        from screens.table_filter import open_filter

        open_filter(self.screen)

    # ---- the operator's main actions, from anywhere (the palette) -----------------------------------------

    def area_screen(self, mode: str) -> Any:
        """Switch to an area and return its own screen (the bottom of its stack, under any dialog or editor)."""
        if self.current_mode != mode:
            self.action_goto(mode)
        return self.screen_stack[0]

    def new_segment(self) -> None:
        """Segments, then its `n`: the segment editor."""
        screen = self.area_screen("segments")
        self.call_after_refresh(screen.action_new)

    def new_campaign(self) -> None:
        """Campaigns, then its `n`: the creation flow."""
        screen = self.area_screen("campaigns")
        self.call_after_refresh(screen.action_new)

    def retire_offer(self) -> None:
        """Offers, then which offer to retire (screens/offers.py: it asks first, naming the layers it leaves)."""
        screen = self.area_screen("offers")
        self.call_after_refresh(screen.choose_retire)

    def refresh_profiles(self) -> None:
        """The overview, then its `R`: `winback refresh` in a worker, its steps and result on the overview."""
        screen = self.area_screen("overview")
        self.call_after_refresh(screen.action_refresh_profiles)

    # verb: (statuses a campaign may be in to be offered, the dialog's title, what to say when there is none)
    CAMPAIGN_ACTIONS: ClassVar[dict[str, tuple[tuple[str, ...], str, str]]] = {
        "launch": (("draft",), "Launch which draft? (dry run: sends nothing)",
                   "No draft campaign to launch — “New campaign” in the palette (or c, then n) makes one."),
        "pause": (("running",), "Pause which running campaign?", "No campaign is running."),
        "resume": (("paused",), "Resume which paused campaign?", "No campaign is paused."),
        "cancel": (("running", "paused", "scheduled"), "Cancel which campaign?",
                   "No campaign is running, paused or scheduled."),
    }

    def choose_campaign(self, verb: str) -> None:
        """Ask which campaign (those in a state the verb applies to), then do it as the screens' own keys would:
        launch → Campaigns' `l` (dry run); pause / resume / cancel → Deliveries' `space` / `r` / `x`."""
        from screens.dialogs import ChoiceDialog

        statuses, title, none_left = self.CAMPAIGN_ACTIONS[verb]
        workspace = self.workspace

        def chosen(name: str | None) -> None:
            if name:   # None: the dialog was dismissed
                self.campaign_action(verb, name)

        def load() -> None:
            from screens.sources import campaign_rows

            background_priority()
            db = workspace.open()
            try:
                rows = [r for r in campaign_rows(db) or [] if r["status"] in statuses]
            finally:
                db.close()
            if not rows:
                self.call_from_thread(self.notify, none_left, title=f"Nothing to {verb}", severity="warning")
                return
            choices = [(r["name"], f"{r['name']} · {r['channel']} · {r['status']}"
                        + (f" · sent {r['sent']:,}" if r.get("sent") else "")) for r in rows]
            self.call_from_thread(self.push_screen, ChoiceDialog(title, choices), chosen)

        self.run_worker(load, name="campaigns", group="app:choose", thread=True, exclusive=True,
                        exit_on_error=False)

    def campaign_action(self, verb: str, name: str) -> None:
        """Launch (dry run), pause, resume or cancel `name` through the screen that owns that key."""
        if verb == "launch":
            self.area_screen("campaigns").launch(name, False)
            return
        self.open_deliveries(name)
        screen = self.area_screen("deliveries")
        # After open_deliveries' reload: the screen follows `name` by then.
        self.call_after_refresh(getattr(screen, f"action_{verb}"))
