"""Shared by tests/test_config_words_*.py: the winback.toml `winback init` writes, one line of it changed, and the
CLI's answer — exit 2, one line on stderr naming the file, the line and the field, no traceback."""

from __future__ import annotations

from pathlib import Path

from console.config import default_config_text


def init_toml() -> Path:
    """./winback.toml as `winback init` writes it, in the current folder (the workspace fixture's: the CLI finds
    it there)."""
    path = Path("winback.toml")
    path.write_text(default_config_text("t"), encoding="utf-8")
    return path


def change(path: Path, old: str, new: str) -> int:
    """Replace the line that starts with *old* by *new*; its 1-based number (counted here, not by winback)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines) if line.startswith(old))
    lines[number] = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return number + 1


def add_after(path: Path, header: str, new: str) -> int:
    """Insert *new* right after the line *header*; its 1-based number."""
    lines = path.read_text(encoding="utf-8").splitlines()
    number = lines.index(header) + 1
    lines.insert(number, new)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return number + 1


def one_error(result) -> str:   # type: ignore[no-untyped-def]
    """The one line the CLI said on stderr for a bad winback.toml (exit 2, no traceback)."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]
