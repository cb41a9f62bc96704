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

Here: the parser and the way back to text. The words, limits and tokenizer are rule_tokens.py; checking a
structured rule is rule_check.py; its type (Rule) is rule_types.py.
"""

from __future__ import annotations

import re
from typing import Any

from console.ime_text import fold_width
from console.segments import fields as registry

# The words and the checks of the language are modules of their own; every name here before the split still is.
from console.segments.rule_check import check_size, nesting, unknown_field_message, validate
from console.segments.rule_tokens import (
    KEYWORDS,
    MAX_CONDITIONS,
    MAX_DAY_VALUES,
    MAX_DAYS,
    MAX_DEPTH,
    MAX_NESTING,
    MAX_NUMBER,
    MAX_RULE_CHARS,
    MAX_VALUES,
    OPS,
    RuleError,
    Token,
    tokenize,
    wide_punctuation_hint,
)
from console.segments.rule_types import (
    Condition,
    GroupKey,
    Rule,
    group_of,
    is_all,
    is_condition,
    is_not,
    make_group,
    split_group,
)

__all__ = [
    "KEYWORDS", "MAX_CONDITIONS", "MAX_DAY_VALUES", "MAX_DAYS", "MAX_DEPTH", "MAX_NESTING", "MAX_NUMBER",
    "MAX_RULE_CHARS", "MAX_VALUES", "OPS", "RuleError", "Token", "tokenize", "check_size", "nesting",
    "unknown_field_message", "validate", "parse", "to_text", "conditions", "Rule", "Condition",
]


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
        return RuleError(self.text, tok.col, message + wide_punctuation_hint(tok.text))

    def parse(self) -> Rule:
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

    def parse_or(self) -> Rule:
        start = self.peek()
        parts = [self.parse_and()]
        while self.is_word("or"):
            self.next()
            parts.append(self.parse_and())
        return self.group("or", parts, start)

    def parse_and(self) -> Rule:
        start = self.peek()
        parts = [self.parse_not()]
        while self.is_word("and"):
            self.next()
            parts.append(self.parse_not())
        return self.group("and", parts, start)

    def group(self, key: GroupKey, parts: list[Rule], start: Token) -> Rule:
        """`key` over `parts`, a parenthesised group of the same kind spliced in (`a or (b or c)` is one `or`);
        refused at its first token when groups nest deeper than MAX_NESTING."""
        if len(parts) == 1:
            return parts[0]
        flat: list[Rule] = []
        for part in parts:
            same = group_of(part)
            flat += same[1] if same and same[0] == key else [part]
        rule = make_group(key, flat)
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

    def parse_not(self) -> Rule:
        if self.is_word("not"):
            self.enter(self.next())
            inner = self.parse_not()
            self.depth -= 1
            return {"not": inner}
        return self.parse_primary()

    def parse_primary(self) -> Rule:
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

    def parse_condition(self) -> Condition:
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
            raise self.fail(tok, unknown_field_message(tok.text))
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


def parse(text: str) -> Rule:
    """Parse rule text into a structured rule; RuleError (exit 2) points at the column of any mistake."""
    return _Parser(text).parse()


# ---- back to text --------------------------------------------------------------------------------------------

_BARE = re.compile(r"^[^\s(),=<>!\"'＂＇“‘≥≤≠]+$")   # the tokenizer's word (rule_tokens._TOKEN)


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    text = str(value)
    # Bare only when the tokenizer reads it back unchanged: "ＡＢ" unquoted would come back as AB (fold_width).
    if _BARE.match(text) and fold_width(text) == text and text.lower() not in KEYWORDS:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_text(rule: Rule, *, top: bool = True) -> str:
    """The canonical text of a structured rule (parses back to the same rule)."""
    if is_all(rule):
        return "all"
    if is_condition(rule):
        op, value = rule["op"], rule["value"]
        if op in ("in", "not in"):
            return f"{rule['field']} {op} ({', '.join(_value_text(v) for v in value)})"
        return f"{rule['field']} {op} {_value_text(value)}"
    if is_not(rule):
        inner = rule["not"]
        text = to_text(inner, top=False)
        return f"not {text}" if group_of(inner) is None else f"not ({text})"
    key, members = split_group(rule)
    parts = []
    for part in members:
        text = to_text(part, top=False)
        # `or` inside `and` needs parentheses; `and` inside `or` binds tighter anyway.
        if key == "and" and "or" in part:
            text = f"({text})"
        parts.append(text)
    return f" {key} ".join(parts)


def conditions(rule: Rule) -> list[Condition]:
    """Every field condition in the rule, left to right."""
    if is_condition(rule):
        return [rule]
    if is_not(rule):
        return conditions(rule["not"])
    out: list[Condition] = []
    group = group_of(rule)
    for part in group[1] if group else []:
        out += conditions(part)
    return out
