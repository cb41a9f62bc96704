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


class RuleError(BadInput):
    """A rule that does not parse or names an unknown field/value; carries the 1-based column."""

    def __init__(self, text: str, column: int, message: str) -> None:
        self.text = text
        self.column = column
        self.message = message
        caret = " " * (_display_width(text[: column - 1])) + "^"
        super().__init__(f"rule, column {column}: {message}\n  {text}\n  {caret}")


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
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

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
        parts = [self.parse_and()]
        while self.is_word("or"):
            self.next()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else {"or": parts}

    def parse_and(self) -> dict[str, Any]:
        parts = [self.parse_not()]
        while self.is_word("and"):
            self.next()
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else {"and": parts}

    def parse_not(self) -> dict[str, Any]:
        if self.is_word("not"):
            self.next()
            return {"not": self.parse_not()}
        return self.parse_primary()

    def parse_primary(self) -> dict[str, Any]:
        tok = self.peek()
        if tok.kind == "(":
            self.next()
            inner = self.parse_or()
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
        try:
            return field.check_value(tok.value, quoted=tok.kind == "string")
        except ValueError as exc:
            raise self.fail(tok, str(exc)) from None


def _unknown_field_message(name: str) -> str:
    close = difflib.get_close_matches(name.lower(), registry.names(), n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else "; `winback segments fields` lists them"
    return f"no field {name!r}{hint}"


def parse(text: str) -> dict[str, Any]:
    """Parse rule text into a structured rule; RuleError (exit 2) points at the column of any mistake."""
    return _Parser(text).parse()


def validate(rule: Any) -> dict[str, Any]:
    """Check a structured rule (e.g. read back from the database or given as JSON) and normalise its values."""
    if not isinstance(rule, dict) or (len(rule) != 1 and "field" not in rule):
        raise BadInput(f"not a rule: {rule!r}")
    if "all" in rule:
        return {"all": True}
    for key in ("and", "or"):
        if key in rule:
            parts = rule[key]
            if not isinstance(parts, list) or not parts:
                raise BadInput(f"rule {key!r} needs a non-empty list")
            return {key: [validate(p) for p in parts]}
    if "not" in rule:
        return {"not": validate(rule["not"])}
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
            value = [field.check_value(v, quoted=isinstance(v, str)) for v in value]
        else:
            value = field.check_value(value, quoted=isinstance(value, str))
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
