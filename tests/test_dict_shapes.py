"""A TypedDict that mirrors a dataclass stays its mirror.

`as_dict()` methods build their dict with `dataclasses.asdict(self)` and `cast` it to a TypedDict (ProgramDict,
CampaignDict, OutcomesDict, …) — so a field added to the dataclass reaches `--json` while the TypedDict, which
mypy trusts at every caller, does not name it; and a key added to the TypedDict alone is promised but never there.
`cast` hides both from mypy, so this test checks them.

The pairs are found, not listed: every method of a dataclass that copies itself (`asdict(self…)`, `vars(self)`,
`self.__dict__`) and is annotated to return a TypedDict is a mirror, and so is every nested pair its fields lead to
(`Program.steps: list[Step]` against `ProgramDict.steps: list[StepDict]`). For each: every dataclass field is a key
with the same annotation (as JSON sees it: a tuple is a list, a nested dataclass its TypedDict), and every key is a
field. Keys the method itself names as string literals — `"mode"` added, `data.pop("name")`, a field it rewrites —
are the method's own business and not compared. A function outside the dataclass that returns a TypedDict built by
`asdict` cannot be paired, so it is refused: make it the dataclass's method.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
import sys
import textwrap
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("console", "screens", "storage", "fixtures")


@dataclass(frozen=True)
class Mirror:
    where: str                  # path:line, for the message
    dataclass_: type
    typeddict: type
    own_keys: frozenset[str]    # string literals in the method: keys it adds, drops or rewrites itself


# ---- finding the pairs --------------------------------------------------------------------------------------------

def _calls_asdict(node: ast.AST, *, of_self: bool) -> bool:
    """Whether *node* copies a dataclass into a dict: `asdict(…)`, `vars(…)` or `….__dict__` (of `self`, when
    of_self)."""
    for found in ast.walk(node):
        if isinstance(found, ast.Call) and found.args:
            name = found.func.attr if isinstance(found.func, ast.Attribute) else getattr(found.func, "id", None)
            if name not in ("asdict", "vars"):
                continue
            source: ast.AST = found.args[0]
        elif isinstance(found, ast.Attribute) and found.attr == "__dict__":
            source = found.value
        else:
            continue
        if not of_self or any(isinstance(n, ast.Name) and n.id == "self" for n in ast.walk(source)):
            return True
    return False


def _string_literals(fn: ast.AST) -> frozenset[str]:
    return frozenset(n.value for n in ast.walk(fn) if isinstance(n, ast.Constant) and isinstance(n.value, str))


def _return_type(obj: object) -> object:
    return typing.get_type_hints(obj).get("return")


def find_mirrors(root: Path, packages: tuple[str, ...]) -> tuple[list[Mirror], list[str]]:
    """(the asdict mirrors, the functions returning a TypedDict built by asdict that cannot be paired)."""
    mirrors: list[Mirror] = []
    unpairable: list[str] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            module_name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
            module: types.ModuleType | None = None
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    methods = [m for m in node.body
                               if isinstance(m, ast.FunctionDef) and _calls_asdict(m, of_self=True)]
                    for method in methods:
                        module = module or importlib.import_module(module_name)
                        cls = getattr(module, node.name)
                        returned = _return_type(getattr(cls, method.name))
                        if isinstance(cls, type) and dataclasses.is_dataclass(cls) and typing.is_typeddict(returned):
                            mirrors.append(Mirror(f"{path.relative_to(root)}:{method.lineno} "
                                                  f"{node.name}.{method.name}", cls, typing.cast(type, returned),
                                                  _string_literals(method)))
                elif isinstance(node, ast.FunctionDef) and _calls_asdict(node, of_self=False):
                    module = module or importlib.import_module(module_name)
                    if typing.is_typeddict(_return_type(getattr(module, node.name))):
                        unpairable.append(f"{path.relative_to(root)}:{node.lineno} {node.name}")
    return mirrors, unpairable


# ---- comparing one pair -------------------------------------------------------------------------------------------

def _as_json(t: object) -> object:
    """tuple[X, ...] is written as a list, as asdict + json.dumps write it."""
    if typing.get_origin(t) is tuple and len(typing.get_args(t)) == 2 and typing.get_args(t)[1] is Ellipsis:
        return list[typing.get_args(t)[0]]  # type: ignore[misc]
    return t


def _same(field_type: object, key_type: object, nested: list[tuple[type, type, str]], where: str) -> bool:
    field_type, key_type = _as_json(field_type), _as_json(key_type)
    if dataclasses.is_dataclass(field_type) and typing.is_typeddict(key_type):
        nested.append((typing.cast(type, field_type), typing.cast(type, key_type), where))  # compared in its turn
        return True
    f_origin, k_origin = typing.get_origin(field_type), typing.get_origin(key_type)
    if f_origin is None or k_origin is None:
        return field_type == key_type
    f_args, k_args = typing.get_args(field_type), typing.get_args(key_type)
    unions = {typing.Union, types.UnionType}
    if f_origin != k_origin and not (f_origin in unions and k_origin in unions):
        return False
    return len(f_args) == len(k_args) and all(_same(f, k, nested, where) for f, k in zip(f_args, k_args, strict=True))


def shape_problems(mirrors: list[Mirror]) -> list[str]:
    """What differs between each dataclass and its TypedDict, nested pairs included (each compared once)."""
    problems: list[str] = []
    todo = [(m.dataclass_, m.typeddict, m.own_keys, m.where) for m in mirrors]
    seen: set[tuple[type, type]] = set()
    while todo:
        cls, shape, own, where = todo.pop(0)
        if (cls, shape) in seen:
            continue
        seen.add((cls, shape))
        hints = typing.get_type_hints(cls)
        fields = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
        keys = typing.get_type_hints(shape)
        pair = f"{where}: {cls.__name__} → {shape.__name__}"
        nested: list[tuple[type, type, str]] = []
        for name in fields.keys() - keys.keys() - own:
            problems.append(f"{pair}: field {name!r} is not a key of {shape.__name__}")
        for name in keys.keys() - fields.keys() - own:
            problems.append(f"{pair}: key {name!r} is not a field of {cls.__name__}")
        for name in sorted(fields.keys() & keys.keys() - own):
            if not _same(fields[name], keys[name], nested, f"{pair}.{name}"):
                problems.append(f"{pair}: {name!r} is {fields[name]} in the dataclass, {keys[name]} in the TypedDict")
        todo += [(c, s, frozenset(), w) for c, s, w in nested]
    return sorted(problems)


# ---- the checks ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def project_mirrors() -> tuple[list[Mirror], list[str]]:
    return find_mirrors(ROOT, PACKAGES)


def test_every_typeddict_mirror_has_its_dataclass_fields(project_mirrors) -> None:
    mirrors, _ = project_mirrors
    # the finder still finds them (Program, Segment, Campaign, Outcomes, RunReport, RenderedMessage, LayerSettings…)
    assert len(mirrors) >= 7, f"only {len(mirrors)} asdict mirrors found: has as_dict changed its shape?"
    problems = shape_problems(mirrors)
    assert not problems, "a TypedDict and the dataclass it mirrors differ:\n  " + "\n  ".join(problems)


def test_no_typeddict_is_built_by_asdict_outside_its_dataclass(project_mirrors) -> None:
    _, unpairable = project_mirrors
    assert not unpairable, ("these return a TypedDict built with asdict() outside the dataclass, which the shape "
                            "check cannot pair: make it the dataclass's method\n  " + "\n  ".join(unpairable))


# The checker on a made-up package: a field added to one side only is caught, on either side and when nested.
_DEMO = '''
from __future__ import annotations
from dataclasses import asdict, dataclass, field
from typing import TypedDict, cast


class StepDict(TypedDict):
    name: str
    days: int{step_key}


@dataclass
class Step:
    name: str
    days: int{step_field}


class PlanDict(TypedDict):
    name: str
    bands: list[int]
    steps: list[StepDict]
    mode: str{plan_key}


@dataclass
class Plan:
    name: str
    bands: tuple[int, ...]
    steps: list[Step] = field(default_factory=list)
    secret: str = ""{plan_field}

    def as_dict(self) -> PlanDict:
        data = asdict(self)
        data.pop("secret")
        return cast(PlanDict, {{**data, "mode": "real"}})


class NoteDict(TypedDict):
    text: str{note_key}


@dataclass
class Note:
    text: str{note_field}

    def as_dict(self) -> NoteDict:
        return cast(NoteDict, dict(vars(self)))


def loose(plan: Plan) -> PlanDict:
    return cast(PlanDict, asdict(plan))
'''


def _demo_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package: str, **edits: str
                   ) -> tuple[list[str], list[str]]:
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    code = _DEMO.format(**{k: edits.get(k, "") for k in ("step_key", "step_field", "plan_key", "plan_field",
                                                          "note_key", "note_field")})
    (tmp_path / package / "shapes.py").write_text(textwrap.dedent(code))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        mirrors, unpairable = find_mirrors(tmp_path, (package,))
        return shape_problems(mirrors), unpairable
    finally:
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]


@pytest.mark.parametrize(("edit", "caught"), [
    ({}, None),
    ({"plan_field": "\n    added: int = 0"}, "field 'added' is not a key of PlanDict"),
    ({"plan_key": "\n    added: int"}, "key 'added' is not a field of Plan"),
    ({"step_field": "\n    added: int = 0"}, "field 'added' is not a key of StepDict"),
    ({"step_key": "\n    added: int"}, "key 'added' is not a field of Step"),
    ({"step_key": "\n    added: str", "step_field": "\n    added: int = 0"}, "'added' is <class 'int'> in the "
                                                                             "dataclass, <class 'str'>"),
    ({"note_field": "\n    added: int = 0"}, "field 'added' is not a key of NoteDict"),   # vars(self), not asdict
])
def test_the_check_catches_a_field_added_to_one_side_only(tmp_path, monkeypatch, edit, caught) -> None:
    package = "shapes_demo_" + re.sub(r"\W", "_", tmp_path.name)   # one per case: nothing stale in sys.modules
    problems, unpairable = _demo_problems(tmp_path, monkeypatch, package, **edit)
    assert [u.split(" ")[-1] for u in unpairable] == ["loose"]
    if caught is None:
        assert problems == []
    else:
        assert len(problems) == 1 and caught in problems[0], problems


@pytest.mark.parametrize(("shape", "table"), [
    ("console.outcomes:CampaignRecord", "campaigns"),
    ("console.policy.suppression_entries:SuppressionRow", "suppressions"),
])
def test_a_stored_row_names_only_columns_of_its_table(db, shape: str, table: str) -> None:
    """These TypedDicts are cast from rows of one table: every key they promise is a column, in the table's order
    (a column added later and not named there is only untyped, not a lie)."""
    module, name = shape.split(":")
    columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
    keys = list(typing.get_type_hints(getattr(importlib.import_module(module), name)))
    assert [k for k in keys if k not in columns] == []
    assert keys == [c for c in columns if c in keys]
