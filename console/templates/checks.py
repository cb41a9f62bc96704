"""The checks made when a template is saved: syntax, allow-listed variables and filters, no calls, loops over
variables only, constant expressions evaluated under the render limits, and a sample render.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import (
    TemplateSyntaxError,
    meta,
    nodes,
)
from jinja2.exceptions import TemplateError, UndefinedError

from console.config import Config
from console.message_context import sample_context
from console.templates.allowed import (
    ALLOWED_FILTERS,
    MAX_LOOP_DEPTH,
    MAX_OUTPUT,
    OPEN,
    VARIABLES,
    RenderLimit,
)
from console.templates.compiled import compile_template, expr_text
from console.templates.files import Problem, Template, fallback_version, part_sources
from console.templates.personal import PERSONALISED, personalised_reads, variable_path
from console.templates.sandbox import (
    RENDER_BUDGET,
    Locale,
    RenderBudget,
    WinbackSandbox,
    environment,
    locale_of,
)


def _column(source: str, line: int | None, needle: str | None) -> int | None:
    if line is None:
        return None
    lines = source.splitlines() or [""]
    text = lines[min(line, len(lines)) - 1]
    for candidate in (needle, needle.rsplit(".", 1)[-1]) if needle else ():
        idx = text.find(candidate)
        if idx >= 0:
            return idx + 1
    idx = min((i for i in (text.find("{{"), text.find("{%")) if i >= 0), default=-1)
    return idx + 1 if idx >= 0 else 1


def _syntax_problem(part: str, source: str, exc: TemplateSyntaxError) -> Problem:
    message = exc.message or str(exc)
    line = exc.lineno
    m = re.search(r"unexpected char '(.)' at (\d+)", message)
    if m:
        pos = int(m.group(2))
        before = source[:pos]
        line = before.count("\n") + 1
        return Problem(part, line, pos - (before.rfind("\n") + 1) + 1, message)
    if "end of template" in message:
        lines = source.splitlines() or [""]
        return Problem(part, len(lines), len(lines[-1]) + 1, message)
    needle = None
    for pattern in (r"got '([^']+)'", r"unexpected '([^']+)'", r"unknown tag '([^']+)'", r"tag name '([^']+)'"):
        m = re.search(pattern, message)
        if m:
            needle = m.group(1)
            break
    if "end of print statement" in message:
        # Jinja's words for a {{ … }} still open where the text goes on ('{{ user.name 好久不见'): say what to do
        message += " — a {{ … }} holds one variable and its | filters: close it with }} before other text"
    return Problem(part, line, _column(source, line, needle), message)




# ['user', 'name'] for user.name; one definition, beside what is personalised (console/templates/personal.py)
_path = variable_path


def _check_path(path: list[str]) -> str | None:
    """None if *path* is on the allow-list, else the reason with what is available there."""
    spec: Any = VARIABLES
    for i, key in enumerate(path):
        if spec is OPEN:
            return None
        if not isinstance(spec, dict):
            return f"{'.'.join(path[:i])} has no field {key!r}"
        if key not in spec:
            if i == 0:
                return f"unknown variable {key!r}; variables: {', '.join(VARIABLES)}"
            return f"unknown variable {'.'.join(path[: i + 1])}; {'.'.join(path[:i])} has: {', '.join(spec)}"
        spec = spec[key]
    return None


_FORBIDDEN_STATEMENTS = {
    nodes.Extends: "{% extends %}", nodes.Include: "{% include %}", nodes.Import: "{% import %}",
    nodes.FromImport: "{% from … import %}", nodes.Macro: "{% macro %}", nodes.CallBlock: "{% call %}",
    nodes.Assign: "{% set %}", nodes.AssignBlock: "{% set %}", nodes.FilterBlock: "{% filter %}",
    nodes.With: "{% with %}", nodes.Block: "{% block %}",
}


class _Checker:
    def __init__(self, part: str, source: str) -> None:
        self.part = part
        self.source = source
        self.problems: list[Problem] = []

    def fail(self, node: nodes.Node, message: str, needle: str | None = None) -> None:
        line = getattr(node, "lineno", None)
        self.problems.append(Problem(self.part, line, _column(self.source, line, needle), message))

    def walk(self, node: nodes.Node, local: frozenset[str] = frozenset(), depth: int = 0) -> None:
        for kind, label in _FORBIDDEN_STATEMENTS.items():
            if isinstance(node, kind):
                self.fail(node, f"{label} is not allowed in message templates", label.split()[1])
                return
        if isinstance(node, nodes.For):
            if depth >= MAX_LOOP_DEPTH:
                self.fail(node, f"loops nest at most {MAX_LOOP_DEPTH} deep", "for")
            if _path(node.iter) is None:
                self.fail(node, "a for loop must go over a variable, e.g. recommendations.best_sellers", "for")
            else:
                self.expression(node.iter, local)
            names = [node.target, *node.target.find_all(nodes.Name)]
            targets = frozenset(n.name for n in names if isinstance(n, nodes.Name)) | {"loop"}
            for child in node.body:
                self.walk(child, local | targets, depth + 1)
            for child in node.else_:
                self.walk(child, local, depth)
            if node.test is not None:
                self.expression(node.test, local | targets)
            return
        if isinstance(node, nodes.Expr):
            self.expression(node, local)
            return
        for child in node.iter_child_nodes():
            self.walk(child, local, depth)

    def expression(self, node: nodes.Node, local: frozenset[str]) -> None:
        if isinstance(node, nodes.Call):
            self.fail(node, f"calls such as {expr_text(node.node)}(…) are not allowed; use a filter",
                      getattr(node.node, "attr", None) or getattr(node.node, "name", None))
            return
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            name = node.attr if isinstance(node, nodes.Getattr) else (
                node.arg.value if isinstance(node.arg, nodes.Const) else None)
            if isinstance(name, str) and (name.startswith("_") or name in ("format", "format_map", "mro")):
                self.fail(node, f"{name!r} is not allowed in templates", name)
                return
        if isinstance(node, nodes.Filter) and (node.name not in ALLOWED_FILTERS or node.name.startswith("_")):
            self.fail(node, f"unknown filter {node.name!r}; filters: {', '.join(ALLOWED_FILTERS)}", node.name)
            return
        path = _path(node) if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem) else None
        if path is not None:
            if path[0] in local:
                return
            reason = _check_path(path)
            if reason:
                self.fail(node, reason, ".".join(path))
            return
        if isinstance(node, nodes.Name):
            if node.name not in local:
                self.fail(node, f"unknown variable {node.name!r}; variables: {', '.join(VARIABLES)}", node.name)
            return
        for child in node.iter_child_nodes():
            self.expression(child, local)


def _uses(ast: nodes.Template, path: tuple[str, ...]) -> bool:
    return any(tuple(_path(node) or ()) == path for node in ast.find_all((nodes.Getattr, nodes.Getitem)))


def check_part(part: str, source: str, env: WinbackSandbox) -> tuple[nodes.Template | None, list[Problem]]:
    """Parse one part and check it against the rules above; returns the AST (None on a syntax error)."""
    try:
        ast = env.parse(source)
        checker = _Checker(part, source)
        checker.walk(ast)
    except TemplateSyntaxError as exc:
        return None, [_syntax_problem(part, source, exc)]
    except RecursionError:
        # jinja's parser recurses once per bracket: `{{ ((((…1)))) }}` thousands deep is not a message.
        return None, [Problem(part, None, None, "expressions are nested too deeply to read")]
    # Cross-check with Jinja's own view of the free names, so no node type the walker skips can hide one.
    # (It compiles the template, so only once the walker found nothing: an unknown filter fails compilation.)
    if not checker.problems:
        try:
            free = meta.find_undeclared_variables(ast)
        except TemplateError as exc:
            return ast, [Problem(part, getattr(exc, "lineno", None), None, str(exc))]
        for name in sorted(free - set(VARIABLES)):
            checker.problems.append(
                Problem(part, None, None, f"unknown variable {name!r}; variables: {', '.join(VARIABLES)}"))
    return ast, checker.problems


def check(template: Template, config: Config | None = None) -> list[Problem]:
    """Every problem that stops *template* from being saved (an empty list means it can be saved)."""
    loc = locale_of(config) if config is not None else Locale()
    problems: list[Problem] = []
    asts: dict[str, nodes.Template] = {}
    for part, source in part_sources(template).items():
        env = environment(loc, html=(part == "html"))
        ast, found = check_part(part, source, env)
        problems.extend(found)
        if ast is not None:
            asts[part] = ast
    if template.channel == "email":
        for part in ("body", "html"):
            if part in asts and not _uses(asts[part], ("links", "unsubscribe")):
                problems.append(Problem(part, None, None,
                                        "an email must carry an unsubscribe link: add {{ links.unsubscribe }}"))
    if not problems:
        for part, ast in asts.items():
            problems.extend(_constant_problems(part, part_sources(template)[part], ast,
                                               environment(loc, html=(part == "html"))))
    if not problems:
        problems.extend(_sample_render(template, loc))
    if template.fallback is not None and not problems:
        problems.extend(_fallback_problems(template, config, loc))
    return problems


def _fallback_problems(template: Template, config: Config | None, loc: Locale) -> list[Problem]:
    """The `[fallback]` is checked as a template of its own, and may read nothing personalised: it is what a
    person who refused personalised marketing receives (console/templates/personal.py)."""
    version = fallback_version(template)
    problems = [Problem(f"fallback {p.part}", p.line, p.column, p.message) for p in check(version, config)]
    if problems:
        return problems
    for variable in personalised_reads(part_sources(version), loc):
        problems.append(Problem("fallback", None, None,
                                f"{variable} is personalised ({PERSONALISED[variable]}): the fallback is what a "
                                "person who refused personalised marketing receives; a part it leaves out is the "
                                "template's own, so give that part in [fallback] too"))
    return problems


def _constant_problems(part: str, source: str, ast: nodes.Template, env: WinbackSandbox) -> list[Problem]:
    """Evaluate, under the render limits, every expression that reads no variable: a bomb behind a condition
    the sample recipient does not meet (`{% if user.attributes.vip %}{{ 9 ** 64 ** 64 ** 64 }}{% endif %}`)
    is refused on save, not found later by the first VIP."""
    problems: list[Problem] = []

    def visit(node: nodes.Node) -> None:
        if (isinstance(node, nodes.Expr) and not isinstance(node, nodes.Const | nodes.TemplateData | nodes.Name)
                and node.find(nodes.Name) is None):
            problem = _evaluate_constant(part, source, node, env)
            if problem is not None:
                problems.append(problem)
            return
        for child in node.iter_child_nodes():
            visit(child)

    visit(ast)
    return problems


def _evaluate_constant(part: str, source: str, node: nodes.Expr, env: WinbackSandbox) -> Problem | None:
    import copy

    lineno = getattr(node, "lineno", None)
    token = RENDER_BUDGET.set(RenderBudget())
    try:
        tmpl = env.from_string(nodes.Template([nodes.Output([copy.deepcopy(node)], lineno=lineno or 1)],
                                              lineno=lineno or 1))
        size = 0
        for chunk in tmpl.generate():
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise RenderLimit(f"this expression prints over {MAX_OUTPUT:,} characters; rendered output is "
                                  "capped")
    except (TemplateError, TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        return Problem(part, lineno, _column(source, lineno, None), f"{type(exc).__name__}: {exc}"
                       if not isinstance(exc, RenderLimit) else str(exc))
    finally:
        RENDER_BUDGET.reset(token)
    return None




def _sample_render(template: Template, loc: Locale) -> list[Problem]:
    """Render with a made-up recipient so that runtime-only failures are caught on save."""
    compiled = compile_template(template, loc)
    try:
        compiled.render(sample_context())
    except UndefinedError:
        return []  # user.attributes.* may legitimately be missing for the sample
    except RenderLimit as exc:
        return [Problem("sample render", None, None, str(exc))]
    except (TemplateError, TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        return [Problem("sample render", None, None, f"{type(exc).__name__}: {exc}")]
    return []
