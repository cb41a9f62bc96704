"""Issue 16: no module over ~400 lines in the packages split along their section banners; the old import paths
keep working (each package re-exports its public names)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 400


@pytest.mark.parametrize("package", ["console/templates"])
def test_split_packages_have_no_module_over_the_limit(package):
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in sorted((ROOT / package).glob("*.py"))}
    assert sizes, f"{package} is not a package"
    assert {name: n for name, n in sizes.items() if n > LIMIT} == {}


def test_templates_public_names_still_import_from_console_templates():
    from console import templates

    for name in ("Template", "Empty", "RenderLimit", "VARIABLES", "CHANNELS", "PARTS", "MAX_OUTPUT", "Locale",
                 "check", "compile_template", "environment", "get", "list_templates", "locale_of", "parse_toml",
                 "save", "save_all", "to_toml", "variants", "approval_problems", "Problem", "CompiledTemplate"):
        assert hasattr(templates, name), name
