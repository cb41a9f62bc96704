"""A workspace: one config and one SQLite file. Services take a Workspace or a Database."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from console.config import Config, load_config, resolve_db_path
from storage.db import DatabaseTooNew, open_database

__all__ = ["DatabaseTooNew", "Workspace"]   # DatabaseTooNew: the CLI reports it without importing storage


@dataclass
class Workspace:
    config: Config = field(default_factory=Config)
    db_path: Path = Path("winback.db")

    @classmethod
    def load(cls, config: str | Path | None = None, db: str | Path | None = None) -> Workspace:
        cfg = load_config(config)
        return cls(config=cfg, db_path=resolve_db_path(cfg, db))

    def open(self) -> sqlite_utils.Database:
        """A new connection for the calling thread, migrated to the current schema."""
        return open_database(self.db_path)
