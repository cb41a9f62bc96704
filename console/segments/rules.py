"""The rule language: `dormancy = dormant and orders >= 3 and region in (华东, 华南)` ⇄ a structured rule.

A rule is JSON, never SQL:

    {"and": [rule, ...]}  {"or": [rule, ...]}  {"not": rule}  {"all": true}
    {"field": "orders", "op": ">=", "value": 3}
    {"field": "region", "op": "in", "value": ["华东", "华南"]}

Syntax: conditions `FIELD OP VALUE` with OP one of = != <> < <= > >=, `FIELD in (V, ...)`, `FIELD not in (...)`;
combined with `and`, `or`, `not` and parentheses (`not` binds tightest, then `and`, then `or`); `all` matches
everyone. Values are bare words (华东, dormant, 3, 12.5) or quoted strings ("cold light", 'O''Brien'). Field names
and values are checked against the field registry (console/segments/fields.py); a mistake is reported with the
rule and a caret under the column where it is.

A rule is also kept small enough to stay data: at most MAX_DEPTH levels of parentheses and `not`, `and`/`or`
groups nested at most MAX_NESTING deep, MAX_CONDITIONS conditions, MAX_VALUES values in all lists together
(MAX_DAY_VALUES in a list of day counts), numbers below 10^15 and day counts up to MAX_DAYS. A rule past a limit is refused where it crosses it, so a hostile or mistaken rule can neither crash the
parser nor be saved and then break every command that counts segments.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from console.errors import BadInput
from console.segments import fields as registry

OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in")
KEYWORDS = {"and", "or", "not", "in", "all"}

# Why these numbers: a real rule has a handful of conditions; the limits sit far above that and far below what
# breaks Python's recursion (about 1,000 frames), SQLite's expression depth (1,000: a chain of `or`s is that
# deep, and each value of `days_since_* in (...)` adds two levels), its parser stack (about 30 nested
# `(a OR (b ...))`, and callers wrap a segment's WHERE in subqueries of their own) and its bound-parameter limit
# (32,766: a day-count value binds two parameters and a segment query binds its rule twice).
MAX_RULE_CHARS = 50_000
MAX_DEPTH = 32
MAX_NESTING = 8
MAX_CONDITIONS = 200
MAX_VALUES = 5_000
MAX_DAY_VALUES = 100
MAX_NUMBER = 10**15          # 15 digits: beyond that a float cannot even hold the number exactly
MAX_DAYS = 100_000           # about 270 years


class RuleError(BadInput):
    """A rule that does not parse or names an unknown field/value; carries the 1-based column."""

    def __init__(self, text: str, column: int, message: str) -> None:
        self.text = text
        self.column = column
        self.message = message
        shown, before = _excerpt(text, column)
        caret = " " * _display_width(before) + "^"
        super().__init__(f"rule, column {column}: {message}\n  {shown}\n  {caret}")


_EXCERPT = 60


def _excerpt(text: str, column: int) -> tuple[str, str]:
    """(the part of the rule to show, the shown text before the column): a long rule is shown as the 60
    characters either side of the mistake, so the caret stays on screen."""
    start = max(0, column - 1 - _EXCERPT)
    end = column - 1 + _EXCERPT
    head = "…" if start > 0 else ""
    tail = "…" if end < len(text) else ""
    return head + text[start:end] + tail, head + text[start: column - 1]


def _display_width(text: str) -> int:
    """Terminal columns: CJK and other wide characters take two, so the caret lands under the right place."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


@dataclass
class Token:
    kind: str       # word | string | op | ( | ) | , | end
    text: str
    col: int        # 1-based
    value: Any = None


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.|"")*"|'(?:[^'\\]|\\.|'')*')
      | (?P<op>!=|<>|<=|>=|==|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[^\s(),=<>!"']+)
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)


def _unquote(raw: str) -> str:
    quote = raw[0]
    body = raw[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(body[i + 1])
            i += 2
            continue
        if ch == quote and i + 1 < len(body) and body[i + 1] == quote:
            out.append(quote)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the pattern matches any non-space character
            raise RuleError(text, pos + 1, "cannot read this")
        kind = m.lastgroup or "bad"
        start = m.start(kind) + 1
        raw = m.group(kind)
        if kind == "bad":
            if raw in "\"'":
                raise RuleError(text, start, "this quote is never closed")
            raise RuleError(text, start, f"unexpected {raw!r}")
        if kind == "string":
            tokens.append(Token("string", raw, start, _unquote(raw)))
        elif kind == "op":
            tokens.append(Token("op", {"<>": "!=", "==": "="}.get(raw, raw), start))
        elif kind == "punct":
            tokens.append(Token(raw, raw, start))
        else:
            tokens.append(Token("word", raw, start, raw))
        pos = m.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_RULE_CHARS:
            raise RuleError(text, 1, f"the rule is {len(text):,} characters long; a rule has at most "
                                                f"{MAX_RULE_CHARS:,} (save a long list of users as an attribute "
                                                "and select on that instead)")
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0          # open parentheses and `not`s around the current position
        self.conditions = 0
        self.values = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_word(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == "word" and tok.text.lower() == word

    def fail(self, tok: Token, message: str) -> RuleError:
        return RuleError(self.text, tok.col, message)

    def parse(self) -> dict[str, Any]:
        if self.peek().kind == "end":
            raise self.fail(self.peek(), "the rule is empty; write a condition such as `dormancy = dormant`, "
                                         "or `all` for everyone")
        rule = self.parse_or()
        tok = self.peek()
        if tok.kind != "end":
            if tok.kind == ")":
                raise self.fail(tok, "this ')' has no matching '('")
            raise self.fail(tok, f"expected `and`, `or` or the end of the rule, found {tok.text!r}")
        return rule

    def parse_or(self) -> dict[str, Any]:
        start = self.peek()
        parts = [self.parse_and()]
        while self.is_word("or"):
            self.next()
            parts.append(self.parse_and())
        return self.group("or", parts, start)

    def parse_and(self) -> dict[str, Any]:
        start = self.peek()
        parts = [self.parse_not()]
        while self.is_word("and"):
            self.next()
            parts.append(self.parse_not())
        return self.group("and", parts, start)

    def group(self, key: str, parts: list[dict[str, Any]], start: Token) -> dict[str, Any]:
        """`key` over `parts`, a parenthesised group of the same kind spliced in (`a or (b or c)` is one `or`);
        refused at its first token when groups nest deeper than MAX_NESTING."""
        if len(parts) == 1:
            return parts[0]
        flat: list[dict[str, Any]] = []
        for part in parts:
            flat += part.get(key, [part])
        rule = {key: flat}
        if nesting(rule) > MAX_NESTING:
            raise self.fail(start, f"`and`/`or` groups nest more than {MAX_NESTING} deep from here; "
                                   "write the rule flatter")
        return rule

    def enter(self, tok: Token) -> None:
        """One level deeper (a `(` or a `not`); refused past MAX_DEPTH, before the recursion gets that far."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(tok, f"the rule nests deeper than {MAX_DEPTH} levels of parentheses and `not`; "
                                 "write it flatter")

    def parse_not(self) -> dict[str, Any]:
        if self.is_word("not"):
            self.enter(self.next())
            inner = self.parse_not()
            self.depth -= 1
            return {"not": inner}
        return self.parse_primary()

    def parse_primary(self) -> dict[str, Any]:
        tok = self.peek()
        if tok.kind == "(":
            self.enter(self.next())
            inner = self.parse_or()
            self.depth -= 1
            close = self.peek()
            if close.kind != ")":
                raise self.fail(close, f"expected ')' to close the '(' at column {tok.col}")
            self.next()
            return inner
        if tok.kind == "word" and tok.text.lower() == "all":
            self.next()
            return {"all": True}
        return self.parse_condition()

    def parse_condition(self) -> dict[str, Any]:
        tok = self.next()
        if tok.kind == "end":
            raise self.fail(tok, "the rule ends where a condition should start")
        if tok.kind != "word" or tok.text.lower() in KEYWORDS:
            raise self.fail(tok, f"expected a field name, found {tok.text!r}")
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise self.fail(tok, f"a rule has at most {MAX_CONDITIONS} conditions; this is one more (for many "
                                 "values of one field use `FIELD in (...)`)")
        field = registry.lookup(tok.text)
        if field is None:
            raise self.fail(tok, _unknown_field_message(tok.text))
        op_tok = self.next()
        if op_tok.kind == "op":
            op = op_tok.text
        elif op_tok.kind == "word" and op_tok.text.lower() == "in":
            op = "in"
        elif op_tok.kind == "word" and op_tok.text.lower() == "not" and self.is_word("in"):
            self.next()
            op = "not in"
        else:
            raise self.fail(op_tok, f"expected a comparison after {tok.text!r} (=, !=, <, <=, >, >=, in, not in), "
                                    f"found {op_tok.text or 'the end'!r}")
        if op not in field.ops():
            raise self.fail(op_tok, f"{field.name} is {field.kind_label()}; use {', '.join(field.ops())}")
        if op in ("in", "not in"):
            values = self.parse_list(field)
            if field.kind == "days" and len(values) > MAX_DAY_VALUES:
                raise self.fail(op_tok, f"{field.name} {op} (...) takes at most {MAX_DAY_VALUES} day counts; "
                                        f"give a range with >= and <= instead")
            return {"field": field.name, "op": op, "value": values}
        return {"field": field.name, "op": op, "value": self.parse_value(field)}

    def parse_list(self, field: registry.Field) -> list[Any]:
        open_tok = self.next()
        if open_tok.kind != "(":
            raise self.fail(open_tok, "expected '(' with a list of values, e.g. in (华东, 华南)")
        values = [self.parse_value(field)]
        while self.peek().kind == ",":
            self.next()
            values.append(self.parse_value(field))
        close = self.peek()
        if close.kind != ")":
            raise self.fail(close, "expected ',' or ')' in the list of values")
        self.next()
        return values

    def parse_value(self, field: registry.Field) -> Any:
        tok = self.next()
        if tok.kind not in ("word", "string"):
            raise self.fail(tok, f"expected a value for {field.name}, found {tok.text or 'the end'!r}")
        self.values += 1
        if self.values > MAX_VALUES:
            raise self.fail(tok, f"a rule holds at most {MAX_VALUES:,} values in all; this is one more")
        try:
            return check_size(field, field.check_value(tok.value, quoted=tok.kind == "string"))
        except ValueError as exc:
            raise self.fail(tok, str(exc)) from None


def nesting(rule: dict[str, Any]) -> int:
    """How deep `and`/`or` groups nest (a condition is 0; `not` adds nothing: compiling pushes it down)."""
    if "not" in rule:
        return nesting(rule["not"])
    for key in ("and", "or"):
        if key in rule:
            return 1 + max(nesting(part) for part in rule[key])
    return 0


def check_size(field: registry.Field, value: Any) -> Any:
    """`value` if SQLite and the calendar can hold it; ValueError says the limit (a 25-digit number would be
    saved and then overflow SQLite's integers in every count)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if field.kind == "days" and value > MAX_DAYS:
        raise ValueError(f"{field.name} counts days; give at most {MAX_DAYS:,}, not {value!r}")
    if abs(value) >= MAX_NUMBER:
        hint = " (quote it to compare it as text)" if field.kind == "attr" else ""
        raise ValueError(f"{field.name}: {value!r} is too large; numbers in rules stay below 10^15{hint}")
    return value


def _unknown_field_message(name: str) -> str:
    close = difflib.get_close_matches(name.lower(), registry.names(), n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else "; `winback segments fields` lists them"
    return f"no field {name!r}{hint}"


def parse(text: str) -> dict[str, Any]:
    """Parse rule text into a structured rule; RuleError (exit 2) points at the column of any mistake."""
    return _Parser(text).parse()


def validate(rule: Any) -> dict[str, Any]:
    """Check a structured rule (e.g. read back from the database or given as JSON) and normalise its values.

    The limits of the rule language apply here too: a rule saved by an older winback, or written into the
    database by hand, is refused with BadInput (exit 2) instead of breaking the query it would become."""
    counts = {"conditions": 0, "values": 0}
    checked = _validate(rule, 0, counts)
    if nesting(checked) > MAX_NESTING:
        raise BadInput(f"the rule's `and`/`or` groups nest more than {MAX_NESTING} deep")
    return checked


def _validate(rule: Any, depth: int, counts: dict[str, int]) -> dict[str, Any]:
    if depth > MAX_DEPTH + MAX_NESTING:     # before recursing: a stored rule may be nested arbitrarily deep
        raise BadInput(f"the rule nests deeper than {MAX_DEPTH + MAX_NESTING} levels")
    if not isinstance(rule, dict) or (len(rule) != 1 and "field" not in rule):
        raise BadInput(f"not a rule: {rule!r}")
    if "all" in rule:
        return {"all": True}
    for key in ("and", "or"):
        if key in rule:
            parts = rule[key]
            if not isinstance(parts, list) or not parts:
                raise BadInput(f"rule {key!r} needs a non-empty list")
            return {key: [_validate(p, depth + 1, counts) for p in parts]}
    if "not" in rule:
        return {"not": _validate(rule["not"], depth + 1, counts)}
    counts["conditions"] += 1
    if counts["conditions"] > MAX_CONDITIONS:
        raise BadInput(f"the rule has more than {MAX_CONDITIONS} conditions")
    field = registry.lookup(str(rule.get("field")))
    if field is None:
        raise BadInput(_unknown_field_message(str(rule.get("field"))))
    op = rule.get("op")
    if op not in field.ops():
        raise BadInput(f"{field.name}: operator {op!r} is not allowed; use {', '.join(field.ops())}")
    value = rule.get("value")
    try:
        if op in ("in", "not in"):
            if not isinstance(value, list) or not value:
                raise BadInput(f"{field.name} {op}: give a non-empty list of values")
            counts["values"] += len(value)
            if counts["values"] > MAX_VALUES:
                raise BadInput(f"the rule holds more than {MAX_VALUES:,} values")
            if field.kind == "days" and len(value) > MAX_DAY_VALUES:
                raise BadInput(f"{field.name} {op} (...) takes at most {MAX_DAY_VALUES} day counts")
            value = [check_size(field, field.check_value(v, quoted=isinstance(v, str))) for v in value]
        else:
            counts["values"] += 1
            value = check_size(field, field.check_value(value, quoted=isinstance(value, str)))
    except ValueError as exc:
        raise BadInput(f"{field.name}: {exc}") from None
    return {"field": field.name, "op": op, "value": value}


# ---- back to text --------------------------------------------------------------------------------------------

_BARE = re.compile(r"^[^\s(),=<>!\"']+$")


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    text = str(value)
    if _BARE.match(text) and text.lower() not in KEYWORDS:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_text(rule: dict[str, Any], *, top: bool = True) -> str:
    """The canonical text of a structured rule (parses back to the same rule)."""
    if "all" in rule:
        return "all"
    if "field" in rule:
        op, value = rule["op"], rule["value"]
        if op in ("in", "not in"):
            return f"{rule['field']} {op} ({', '.join(_value_text(v) for v in value)})"
        return f"{rule['field']} {op} {_value_text(value)}"
    if "not" in rule:
        inner = rule["not"]
        text = to_text(inner, top=False)
        return f"not {text}" if ("field" in inner or "all" in inner or "not" in inner) else f"not ({text})"
    key = "and" if "and" in rule else "or"
    parts = []
    for part in rule[key]:
        text = to_text(part, top=False)
        # `or` inside `and` needs parentheses; `and` inside `or` binds tighter anyway.
        if key == "and" and "or" in part:
            text = f"({text})"
        parts.append(text)
    return f" {key} ".join(parts)


def conditions(rule: dict[str, Any]) -> list[dict[str, Any]]:
    """Every field condition in the rule, left to right."""
    if "field" in rule:
        return [rule]
    if "not" in rule:
        return conditions(rule["not"])
    out: list[dict[str, Any]] = []
    for key in ("and", "or"):
        for part in rule.get(key, []):
            out += conditions(part)
    return out
