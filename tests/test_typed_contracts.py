"""A ratchet on the typed contracts of issue 16: what services hand the CLI and the screens is typed.

Counted with `ast` over the source (nothing is imported):
- functions whose return annotation is `dict[str, Any]` or `list[dict[str, Any]]` — an untyped bag of keys that
  mypy cannot check at the caller; a TypedDict next to the function (or a dataclass) says which keys there are;
- parameters named `config`/`cfg` annotated `Any` — the loaded configuration is `console.config.Config`.

The caps are the numbers reached when the ratchet was set. A new function may not add to them: type what it
returns instead. When you type more, lower the cap to the new count (the failure message lists the offenders).

And the one seam mypy cannot see: a screen's `self.fetch("key", service, …)` hands the service's result to its
`show_key` / `done_key` by name (screens/base.py). That handler must take what the service returns.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

UNTYPED_RETURNS = {"dict[str, Any]", "list[dict[str, Any]]"}
CONFIG_NAMES = {"config", "cfg"}

# (package, untyped dict returns, `config: Any` parameters). Before issue 16's typing: console 120 / 27,
# screens 39 / 20; then 54 / 0 and 1 / 0 before the reconcile, requeue, brake, layer, recommendation, campaign-row
# and creation-form shapes were typed.
CAPS = {
    "console": (22, 0),
    "screens": (0, 0),
}


@functools.cache
def _signatures(package: str) -> tuple[tuple[str, str | None, tuple[tuple[str, str], ...]], ...]:
    """(where, return annotation, annotated config parameters) of every function in the package, read in one pass
    per test process: both caps below read the same ~280 files, and parsing them is most of their time. Only these
    strings are kept (holding every tree made each later collection slower than the second parse it saved)."""
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
                config = tuple((arg.arg, ast.unparse(arg.annotation)) for arg in args
                               if arg.arg in CONFIG_NAMES and arg.annotation is not None)
                out.append((f"{path.relative_to(ROOT)}:{node.lineno} {node.name}",
                            None if node.returns is None else ast.unparse(node.returns), config))
    return tuple(out)


def untyped_returns(package: str) -> list[str]:
    return [where for where, returns, _ in _signatures(package) if returns in UNTYPED_RETURNS]


def any_config_parameters(package: str) -> list[str]:
    return [f"{where}({name})" for where, _, config in _signatures(package)
            for name, annotation in config if annotation in {"Any", "Any | None", "Optional[Any]"}]


def test_the_counter_sees_both_kinds() -> None:
    """The counter itself: it finds an untyped return and an Any config in a snippet (else a cap of 0 is vacuous)."""
    tree = ast.parse("def f(config: Any) -> dict[str, Any]: ...\ndef g(cfg: Any | None) -> list[dict[str, Any]]: ...")
    fns = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    assert [ast.unparse(f.returns) in UNTYPED_RETURNS for f in fns if f.returns] == [True, True]
    assert [ast.unparse(f.args.args[0].annotation) for f in fns if f.args.args[0].annotation] == ["Any", "Any | None"]


def test_services_return_no_more_untyped_dicts_than_the_cap() -> None:
    for package, (cap, _) in CAPS.items():
        found = untyped_returns(package)
        assert len(found) <= cap, (
            f"{package}/: {len(found)} functions return dict[str, Any] (cap {cap}); type the new ones with a "
            "TypedDict or a dataclass:\n  " + "\n  ".join(found))


def test_config_parameters_are_typed() -> None:
    for package, (_, cap) in CAPS.items():
        found = any_config_parameters(package)
        assert len(found) <= cap, (
            f"{package}/: {len(found)} config parameters typed Any (cap {cap}); use console.config.Config:\n  "
            + "\n  ".join(found))


def _annotation(node: ast.expr | None) -> str | None:
    # `people.PersonPage` and `PersonPage` are one type: module qualifiers are dropped
    return None if node is None else re.sub(r"\b\w+\.(?=[A-Z])", "", ast.unparse(node))


def fetch_routes() -> list[tuple[str, str, str | None]]:
    """(where, what the service returns, what its handler takes) for every `self.fetch("key", service, …)` in
    screens/ whose service is a function of screens/ and whose class has the show_/done_ handler."""
    returns: dict[str, set[str | None]] = {}
    classes: dict[str, tuple[Path, ast.ClassDef]] = {}
    for path in sorted((ROOT / "screens").rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef):
                returns.setdefault(node.name, set()).add(_annotation(node.returns))
            elif isinstance(node, ast.ClassDef):
                classes[node.name] = (path, node)
    routes = []
    for name, (path, cls) in classes.items():
        methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
        for call in ast.walk(cls):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "fetch"
                    and len(call.args) >= 2 and isinstance(call.args[0], ast.Constant)):
                continue
            key, service = call.args[0].value, call.args[1]
            service_name = service.attr if isinstance(service, ast.Attribute) else getattr(service, "id", None)
            handler = methods.get(f"show_{key}") or methods.get(f"done_{key}")
            returned = returns.get(service_name or "", set())
            if handler is None or len(returned) != 1 or len(handler.args.args) < 2:
                continue
            where = f"{path.relative_to(ROOT)}:{call.lineno} {name} {key!r} ← {service_name}"
            routes.append((where, returned.pop() or "(none)", _annotation(handler.args.args[1].annotation)))
    return routes


def test_every_fetched_result_goes_to_a_handler_of_its_type() -> None:
    routes = fetch_routes()
    assert len(routes) >= 40, f"only {len(routes)} fetches found: has screens.base.fetch changed its shape?"
    wrong = [f"{where}: returns {ret}, handler takes {took}" for where, ret, took in routes if ret != took]
    assert not wrong, "the handler's parameter must be the service's return type:\n  " + "\n  ".join(wrong)
