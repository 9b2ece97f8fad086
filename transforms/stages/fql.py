"""Segment's Filter Query Language (FQL): compile an expression once, then test events with it.

>>> matches = compile_fql("type = 'track' and ( event = 'Click' or match( event, 'Button *' ) )")
>>> matches({"type": "track", "event": "Button Clicked"}), matches({"type": "identify"})
(True, False)
>>> compile_fql("'dark-mode' in properties.features")({"properties": {"features": ["dark-mode"]}})
True
>>> compile_fql("properties.product\\\\ 1.price = '19.99'")({"properties": {"product 1": {"price": "19.99"}}})
True
>>> try:
...     compile_fql("type = 'track')")
... except FqlError as err:
...     print(err)
unexpected ')' at position 15

The language as Segment documents it (segment-docs src/api/public-api/fql.md) and its engines
evaluate it (segmentio/tsub-js src/matchers.ts; the lexer of @segment/fql-ts):
- paths: dot-separated field names of `a-z A-Z 0-9 _ -`; any other character is escaped with
  `\\`; a segment of digits indexes a list; a missing field is `null`.
- literals: 'single' or "double" quoted strings (no escapes inside: a string ends at its next
  quote), numbers (`-12`, `1.5`), `true`, `false`, `null`, lists `[...]`.
- `=` / `!=`: the same type and strictly equal (lists and objects by their JSON text, in order);
  `<` `<=` `>` `>=`: numbers only, else false; `x in list`: x equals an element.
- `and`, `or`, `!`, parentheses; `and` binds tighter than `or`. Only the value `true` is true:
  `null`, a missing field, a string... are not, so `!properties.missing` is true.
- functions: contains, match (glob), length (bytes of a string in UTF-8; 0 for null), lowercase,
  uppercase, snakecase, kebabcase, titlecase, typeof, bool, string, number.

An expression never fails on an event: a function given the wrong type gives its documented
default (false, 0, null). compile_fql raises FqlError, with the position (1-based character)
where it went wrong, for an expression that does not parse.
"""
import decimal
import functools
import json
import math
import re

__all__ = ["FqlError", "compile_fql", "js_json", "glob_match", "FUNCTIONS"]


class FqlError(ValueError):
    """An expression that does not parse; `position` is the 1-based character where it failed."""

    def __init__(self, message: str, position: int):
        super().__init__(f"{message} at position {position}")
        self.position = position


# ---------------------------------------------------------------------------------------------
# Lexer: (kind, value, position) tokens.

_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_WHITESPACE = " \t\r\n"
_KEYWORDS = {"and": "and", "or": "or", "in": "in", "null": "lit", "true": "lit", "false": "lit"}
_KEYWORD_VALUES = {"null": None, "true": True, "false": False}
_NUMBER = re.compile(r"[-+]?[0-9]+(\.[0-9]+)?")


def _tokens(text: str) -> list:
    tokens, i, n = [], 0, len(text)
    while i < n:
        char = text[i]
        if char in _WHITESPACE:
            i += 1
            continue
        start = i
        if char in "()[],.":
            tokens.append((char, char, start))
            i += 1
        elif char == "=":
            tokens.append(("op", "=", start))
            i += 1
        elif char in "<>":
            op = char + "=" if text.startswith("=", i + 1) else char
            tokens.append(("op", op, start))
            i += len(op)
        elif char == "!":
            if text.startswith("=", i + 1):
                tokens.append(("op", "!=", start))
                i += 2
            else:
                tokens.append(("!", "!", start))
                i += 1
        elif char in "'\"":
            end = text.find(char, i + 1)
            if end < 0:
                raise FqlError("unterminated string", start + 1)
            tokens.append(("lit", text[i + 1:end], start))
            i = end + 1
        elif (char.isdigit() or char in "-+") and not (tokens and tokens[-1][0] == "."):
            match = _NUMBER.match(text, i)
            if match is None:
                raise FqlError(f"invalid number {char!r}", start + 1)
            literal = match.group()
            i = match.end()
            if i < n and (text[i] in _IDENT_CHARS or text[i] in ".\\"):
                raise FqlError(f"invalid number {text[start:i + 1]!r}", start + 1)
            tokens.append(("lit", float(literal) if "." in literal else int(literal), start))
        elif char in _IDENT_CHARS or char == "\\":
            name, escaped = [], False
            while i < n and (text[i] in _IDENT_CHARS or text[i] == "\\"):
                if text[i] == "\\":
                    if i + 1 >= n:
                        raise FqlError("nothing to escape after \\", i + 1)
                    escaped = True
                    i += 1
                name.append(text[i])
                i += 1
            word = "".join(name)
            kind = None if escaped or (tokens and tokens[-1][0] == ".") else _KEYWORDS.get(word)
            if kind is None:
                tokens.append(("name", word, start))
            elif kind == "lit":
                tokens.append(("lit", _KEYWORD_VALUES[word], start))
            else:
                tokens.append((kind, word, start))
        else:
            raise FqlError(f"unexpected character {char!r}", start + 1)
    tokens.append(("end", "", n))
    return tokens


# ---------------------------------------------------------------------------------------------
# Values, as FQL sees them.

def _is_number(value) -> bool:
    return (type(value) is int or type(value) is float)


def _kind(value) -> str:
    """The FQL type name: string, number, bool, null, list or object."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "bool"
    if isinstance(value, str):
        return "string"
    if _is_number(value):
        return "number"
    if isinstance(value, list):
        return "list"
    return "object"


def js_number(value: float | int) -> str:
    """A number as JavaScript's JSON.stringify writes it: 1.0 -> '1', 1e-07 -> '1e-7'.

    >>> js_number(1.0), js_number(1.5), js_number(1e21), js_number(1e-7), js_number(1.5e16)
    ('1', '1.5', '1e+21', '1e-7', '15000000000000000')
    """
    if type(value) is int:
        return str(value)
    if math.isnan(value) or math.isinf(value):
        return "null"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    exponent = int(exponent)
    if -7 < exponent < 21:
        return format(decimal.Decimal(text), "f")
    return f"{mantissa}e{'+' if exponent > 0 else '-'}{abs(exponent)}"


def js_json(value) -> str:
    """`value` as JavaScript's JSON.stringify writes it (compact, keys in their order, UTF-8 text
    unescaped); a missing value (None) is 'null'.

    >>> js_json({"a": [1.0, "é", None, True]})
    '{"a":[1,"é",null,true]}'
    """
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None or value is True or value is False:
        return "null" if value is None else ("true" if value else "false")
    if _is_number(value):
        return js_number(value)
    if isinstance(value, list):
        return "[" + ",".join(js_json(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(str(key), ensure_ascii=False) + ":" + js_json(item)
                              for key, item in value.items()) + "}"
    return "null"


def _equal(left, right) -> bool:
    """FQL's `=`: the same type and strictly equal; lists and objects by their JSON text."""
    kind = _kind(left)
    if kind != _kind(right):
        return False
    if kind in ("list", "object"):
        return js_json(left) == js_json(right)
    return left == right


# ---------------------------------------------------------------------------------------------
# Glob matching, as segmentio/glob (Go's path.Match, with no special separator): `*` any run of
# characters, `?` one, `[abc]` `[a-z]` `[^a-z]` classes, `\x` the character x. A malformed
# pattern matches nothing.

@functools.lru_cache(maxsize=1024)
def _glob_regex(pattern: str):
    out, i, n = [], 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "\\":
            if i + 1 >= n:
                return None
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            i += 1
            negated = i < n and pattern[i] == "^"
            if negated:
                i += 1
            ranges = []
            while True:
                if i < n and pattern[i] == "]" and ranges:
                    break
                low, i = _class_char(pattern, i)
                if low is None:
                    return None
                high = low
                if i < n and pattern[i] == "-":
                    high, i = _class_char(pattern, i + 1)
                    if high is None:
                        return None
                if low > high:
                    return None
                ranges.append(re.escape(low) + ("" if high == low else "-" + re.escape(high)))
            out.append("[" + ("^" if negated else "") + "".join(ranges) + "]")
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _class_char(pattern: str, i: int):
    """(character, next index) of a class member, or (None, i) where the pattern is malformed."""
    if i >= len(pattern) or pattern[i] in "-]":
        return None, i
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            return None, i
    return pattern[i], i + 1


def glob_match(text: str, pattern: str) -> bool:
    """True when the glob `pattern` matches all of `text` (case-sensitive).

    >>> glob_match("ab/c", "a*"), glob_match("abc", "ab"), glob_match("ab*d", "ab\\\\*d")
    (True, False, True)
    """
    regex = _glob_regex(pattern)
    return regex is not None and regex.fullmatch(text) is not None


# ---------------------------------------------------------------------------------------------
# Functions: name -> (number of arguments, implementation on the arguments' values).

def _contains(text, sub):
    return isinstance(text, str) and isinstance(sub, str) and sub in text


def _match(text, pattern):
    return isinstance(text, str) and isinstance(pattern, str) and glob_match(text, pattern)


def _length(value):
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, list):
        return len(value)
    return math.nan


def _string_function(rule):
    return lambda value: rule(value) if isinstance(value, str) else None


_WORD_START = re.compile(r"(^|[^0-9A-Za-z_])([a-z])")


def _titlecase(text: str) -> str:
    """The first letter of each word upper case, the rest as it was ('test string' -> 'Test
    String'); a word starts after a character that is not a letter, digit or `_`."""
    return _WORD_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)


_TRUE_WORDS = frozenset(("1", "t", "T", "true", "TRUE", "True"))


def _bool(value):
    if value is None:
        return False
    if value is True or value is False:
        return value
    if _is_number(value):
        return value != 0
    if isinstance(value, str):
        return value in _TRUE_WORDS
    if isinstance(value, list):
        return len(value) > 0
    return False


def _string(value):
    return value if isinstance(value, str) else js_json(value)


_DECIMAL = re.compile(r"\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*")


def _number(value):
    if _is_number(value):
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 2 ** 53 else number
    return None


FUNCTIONS = {
    "contains": (2, _contains),
    "match": (2, _match),
    "length": (1, _length),
    "lowercase": (1, _string_function(str.lower)),
    "uppercase": (1, _string_function(str.upper)),
    "snakecase": (1, _string_function(lambda s: s.replace(" ", "_"))),
    "kebabcase": (1, _string_function(lambda s: s.replace(" ", "-"))),
    "titlecase": (1, _string_function(_titlecase)),
    "typeof": (1, _kind),
    "bool": (1, _bool),
    "string": (1, _string),
    "number": (1, _number),
}


# ---------------------------------------------------------------------------------------------
# Parser: tokens -> a closure event -> value.

def value_at(value, path: tuple):
    """The value at a path of keys (a list's index as digits), None where there is none.

    >>> value_at({"a": {"b": [1, {"c": 2}]}}, ("a", "b", "1", "c")), value_at({"a": 1}, ("a", "b"))
    (2, None)
    """
    for key in path:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def _path_getter(segments: tuple):
    if len(segments) == 1:
        key = segments[0]
        return lambda event: event.get(key) if isinstance(event, dict) else None

    return lambda event: value_at(event, segments)


class _Constant:
    """A literal's node: called like every node, and its value known when compiling."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __call__(self, event):
        return self.value


def _constant(value):
    return _Constant(value)


def _equality(left, right):
    """The `=` node; against a literal string, number, bool or null, a test made for its type
    (the same answers as _equal, without asking each value's kind)."""
    if isinstance(left, _Constant) and not isinstance(right, _Constant):
        left, right = right, left
    if not isinstance(right, _Constant) or isinstance(right.value, list):
        return lambda event: _equal(left(event), right(event))
    constant = right.value
    if constant is None:
        return lambda event: left(event) is None
    if constant is True or constant is False:
        return lambda event: left(event) is constant
    if isinstance(constant, str):
        def equal_text(event):
            value = left(event)
            return type(value) is str and value == constant
        return equal_text

    def equal_number(event):
        value = left(event)
        return (type(value) is int or type(value) is float) and value == constant
    return equal_number


class _Parser:
    def __init__(self, text: str):
        self._tokens = _tokens(text)
        self._at = 0

    def parse(self):
        node = self._or()
        kind, value, position = self._tokens[self._at]
        if kind != "end":
            raise FqlError(f"unexpected {value!r}" if kind != "lit" else "unexpected value",
                           position + 1)
        return node

    def _peek(self):
        return self._tokens[self._at]

    def _take(self, kind: str, what: str):
        token = self._tokens[self._at]
        if token[0] != kind:
            found = "the end" if token[0] == "end" else repr(token[1]) if token[0] != "lit" else "a value"
            raise FqlError(f"expected {what}, found {found}", token[2] + 1)
        self._at += 1
        return token

    def _or(self):
        parts = [self._and()]
        while self._peek()[0] == "or":
            self._at += 1
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            first, second = parts
            return lambda event: first(event) is True or second(event) is True
        return lambda event: any(part(event) is True for part in parts)

    def _and(self):
        parts = [self._not()]
        while self._peek()[0] == "and":
            self._at += 1
            parts.append(self._not())
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            first, second = parts
            return lambda event: first(event) is True and second(event) is True
        return lambda event: all(part(event) is True for part in parts)

    def _not(self):
        if self._peek()[0] == "!":
            self._at += 1
            inner = self._not()
            return lambda event: inner(event) is not True
        return self._comparison()

    def _comparison(self):
        left = self._operand()
        kind, op, _ = self._peek()
        if kind == "in":
            self._at += 1
            right = self._operand()
            if isinstance(right, _Constant) and isinstance(right.value, list) and right.value \
                    and all(type(item) is str for item in right.value):
                texts = frozenset(right.value)

                def within_texts(event):
                    value = left(event)
                    return type(value) is str and value in texts
                return within_texts

            def within(event):
                items = right(event)
                if not isinstance(items, list):
                    return False
                value = left(event)
                return any(_equal(value, item) for item in items)
            return within
        if kind != "op":
            return left
        self._at += 1
        right = self._operand()
        if op == "=":
            return _equality(left, right)
        if op == "!=":
            equal = _equality(left, right)
            return lambda event: not equal(event)
        compare = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
                   ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[op]

        def numbers(event):
            a, b = left(event), right(event)
            return _is_number(a) and _is_number(b) and compare(a, b)
        return numbers

    def _operand(self):
        kind, value, position = self._peek()
        if kind == "lit":
            self._at += 1
            return _constant(value)
        if kind == "(":
            self._at += 1
            inner = self._or()
            self._take(")", "')'")
            return inner
        if kind == "[":
            return self._list()
        if kind == "name":
            self._at += 1
            if self._peek()[0] == "(":
                return self._call(value, position)
            segments = [value]
            while self._peek()[0] == ".":
                self._at += 1
                segments.append(self._take("name", "a field name after '.'")[1])
            return _path_getter(tuple(segments))
        found = "the end" if kind == "end" else repr(value)
        raise FqlError(f"expected a value, a field or '(', found {found}", position + 1)

    def _list(self):
        self._at += 1
        items = []
        if self._peek()[0] != "]":
            items.append(self._operand())
            while self._peek()[0] == ",":
                self._at += 1
                items.append(self._operand())
        self._take("]", "',' or ']'")
        if all(isinstance(item, _Constant) for item in items):
            return _Constant([item.value for item in items])
        return lambda event: [item(event) for item in items]

    def _call(self, name: str, position: int):
        if name not in FUNCTIONS:
            raise FqlError(f"unknown function {name!r}", position + 1)
        arity, function = FUNCTIONS[name]
        self._at += 1   # (
        arguments = []
        if self._peek()[0] != ")":
            arguments.append(self._or())
            while self._peek()[0] == ",":
                self._at += 1
                arguments.append(self._or())
        self._take(")", "',' or ')'")
        if len(arguments) != arity:
            raise FqlError(f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, "
                           f"got {len(arguments)}", position + 1)
        if arity == 1:
            (argument,) = arguments
            return lambda event: function(argument(event))
        first, second = arguments
        return lambda event: function(first(event), second(event))


def compile_expression(text: str):
    """The expression as a function event -> its FQL value (any type); FqlError if it does
    not parse."""
    if not isinstance(text, str) or not text.strip():
        raise FqlError("empty expression", 1)
    return _Parser(text).parse()


def compile_fql(text: str):
    """The expression as a predicate event -> bool: True only where it evaluates to true."""
    expression = compile_expression(text)
    if isinstance(expression, _Constant):
        return lambda event, value=expression.value: value is True
    return lambda event: expression(event) is True
