"""Message templates: the TOML format, the sandbox they render in, the checks made on save, and storage.

Templates are Jinja2 (≥ 3.1.6) rendered in an ``ImmutableSandboxedEnvironment`` with ``StrictUndefined`` and
no globals (DOMAIN.md "Messages"). On top of the sandbox, a template is checked when it is saved:

- every variable must be on the allow-list (:data:`VARIABLES`) — ``user.nmae`` is refused with its line and column;
- no calls (``x.y()``), no names starting with ``_``, only allow-listed filters, no ``set``/``macro``/``include``;
- ``for`` loops iterate over variables only, at most two deep;
- a sample render must succeed within the output cap (``{{ 'x' * 10000000 }}`` is refused).

At render time the sandbox still refuses unsafe attributes, repetition and formatting that would blow up
(:meth:`WinbackSandbox.call_binop`), and output is cut off at :data:`MAX_OUTPUT` characters with an error.

Every render is bounded (issue 12.5), so a template bomb is a render error for its recipient, never a hang, a
MemoryError or a traceback:

- ``*`` and ``+`` refuse a result whose *text* would pass :data:`MAX_OUTPUT` (``['x' * 99999] * 99999`` is one
  list item repeated, yet 10^10 characters once printed); ``*`` and ``**`` refuse integers over
  :data:`MAX_INT_BITS` (``9**9**9**9`` is computed left to right: 9^729, each exponent small);
- every value the operators and ``join`` build is charged to a budget of :data:`MAX_WORK` characters per
  render, and a render past :data:`RENDER_SECONDS` stops at the next operator or output chunk;
- on save, every constant expression is evaluated under the same limits, even inside a branch the sample
  recipient does not take (``{% if user.attributes.vip %}{{ bomb }}{% endif %}``).

The package, in the operator's words: allowed.py (what a template may contain), sandbox.py (where it renders),
files.py (the Template and its TOML), checks.py (what is checked on save), compiled.py (compiled once, rendered
for many), store.py (saved in the database). `console.templates.X` names every public name of them.
"""

from __future__ import annotations

from console.channel_names import CHANNELS
from console.templates.allowed import (
    ALL_KEYS,
    ALLOWED_FILTERS,
    MAX_INT_BITS,
    MAX_LOOP_DEPTH,
    MAX_OUTPUT,
    MAX_SOURCE,
    MAX_WORK,
    META_KEYS,
    OPEN,
    PARTS,
    RENDER_SECONDS,
    REQUIRED,
    VARIABLES,
    RenderLimit,
)
from console.templates.checks import check, check_part
from console.templates.compiled import CompiledTemplate, Empty, compile_template
from console.templates.files import Problem, Template, parse_toml, to_toml
from console.templates.sandbox import (
    MAX_SLOTS,
    SLOT_BASE,
    Locale,
    WinbackSandbox,
    environment,
    locale_of,
)
from console.templates.store import (
    approval_problems,
    approved_providers,
    get,
    get_by_id,
    list_templates,
    save,
    save_all,
    save_one,
    variants,
)

__all__ = [
    "ALLOWED_FILTERS",
    "ALL_KEYS",
    "CHANNELS",
    "CompiledTemplate",
    "Empty",
    "Locale",
    "MAX_INT_BITS",
    "MAX_LOOP_DEPTH",
    "MAX_OUTPUT",
    "MAX_SLOTS",
    "MAX_SOURCE",
    "MAX_WORK",
    "META_KEYS",
    "OPEN",
    "PARTS",
    "Problem",
    "RENDER_SECONDS",
    "REQUIRED",
    "RenderLimit",
    "SLOT_BASE",
    "Template",
    "VARIABLES",
    "WinbackSandbox",
    "approval_problems",
    "approved_providers",
    "check",
    "check_part",
    "compile_template",
    "environment",
    "get",
    "get_by_id",
    "list_templates",
    "locale_of",
    "parse_toml",
    "save",
    "save_all",
    "save_one",
    "to_toml",
    "variants",
]
