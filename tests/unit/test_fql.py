"""FQL against the examples of Segment's FQL page (segment-docs src/api/public-api/fql.md) and the
rules of its engine (segmentio/tsub-js matchers.ts)."""
import pytest

from transforms.stages.fql import FqlError, compile_expression, compile_fql, glob_match, js_json

# The page's example object and its table of statements and results.
DOC_EVENT = {
    "event": "Button Clicked",
    "type": "track",
    "context": {"library": {"name": "analytics.js", "version": "1.0"}},
    "properties": {"features": ["discounts", "dark-mode"]},
}
DOC_TABLE = [
    ("event = 'Button Clicked'", True),
    ("event = 'Screen Tapped'", False),
    ("context.path.path = '/login'", False),
    ("type = 'identify' or type = 'track'", True),
    ("event = 'Button Clicked' and type = 'track'", True),
    ("match( context.library.version, '1.*' )", True),
    ("match( context.library.version, '2.*' )", False),
    ("type = 'track' and ( event = 'Click' or match( event, 'Button *' ) )", True),
    ("!contains( context.library.name, 'js' )", False),
    ("'dark-mode' in properties.features", True),
    ("'blink' in properties.features", False),
]


@pytest.mark.parametrize("expression,expected", DOC_TABLE)
def test_the_fql_pages_examples(expression, expected):
    assert compile_fql(expression)(DOC_EVENT) is expected


def test_escaped_field_path_from_the_page():
    event = {"properties": {"product 1": {"price": "19.99"}}}
    assert compile_fql(r"properties.product\ 1.price = '19.99'")(event) is True
    assert compile_fql(r"properties.product\ 1.price = '5'")(event) is False


def test_escapes_reach_dots_and_keywords_and_digits_index_lists():
    event = {"context": {"a.b": 1, "and": "x"}, "properties": {"products": [{"sku": "A"}, {"sku": "B"}]}}
    assert compile_fql(r"context.a\.b = 1")(event)
    assert compile_fql(r"context.\and = 'x'")(event)
    assert compile_fql("properties.products.1.sku = 'B'")(event)
    assert not compile_fql("properties.products.5.sku = 'B'")(event)


@pytest.mark.parametrize("expression,event,expected", [
    # the page's subexpression examples
    ("( type = 'track' or type = 'identify' ) and ( properties.enabled or match( traits.email, '*@company.com' ) )",
     {"type": "identify", "traits": {"email": "a@company.com"}}, True),
    ("( type = 'track' or type = 'identify' ) and ( properties.enabled or match( traits.email, '*@company.com' ) )",
     {"type": "track", "properties": {"enabled": True}}, True),
    ("( type = 'track' or type = 'identify' ) and ( properties.enabled or match( traits.email, '*@company.com' ) )",
     {"type": "track", "properties": {"enabled": "yes"}}, False),
    ("!( type in ['track', 'identify'] )", {"type": "page"}, True),
    ("!( type in ['track', 'identify'] )", {"type": "track"}, False),
    # and binds tighter than or
    ("type = 'page' or type = 'track' and event = 'A'", {"type": "page"}, True),
    ("type = 'page' or type = 'track' and event = 'A'", {"type": "track", "event": "B"}, False),
])
def test_subexpressions(expression, event, expected):
    assert compile_fql(expression)(event) is expected


@pytest.mark.parametrize("expression,expected", [
    # = and != are type-strict; lists compare by content and order
    ("properties.n = 1", True), ("properties.n = '1'", False), ("properties.n != '1'", True),
    ("properties.flag = true", True), ("properties.flag = 1", False),
    ("properties.list = [1, 'a']", True), ("properties.list = ['a', 1]", False),
    ("properties.missing = null", True), ("properties.nil = null", True), ("properties.n = null", False),
    ("properties.f = 1", True),   # 1.0 and 1 are the same number
    # numbers only for < <= > >=
    ("properties.n > 0", True), ("properties.n >= 1", True), ("properties.n < 1", False),
    ("properties.n <= -0.5", False), ("properties.s > 0", False), ("properties.flag > 0", False),
    ("properties.missing < 5", False),
    # in
    ("properties.n in [1, 2]", True), ("'1' in [1, 2]", False), ("null in [null]", True),
    ("properties.n in properties.s", False),
    # truth: only true is true
    ("properties.s", False), ("properties.flag", True), ("!properties.missing", True),
    ("properties.missing or properties.flag", True), ("properties.missing and properties.flag", False),
])
def test_operators_and_null(expression, expected):
    event = {"properties": {"n": 1, "f": 1.0, "s": "1", "flag": True, "list": [1, "a"], "nil": None}}
    assert compile_fql(expression)(event) is expected


@pytest.mark.parametrize("expression,value", [
    # the page's null defaults
    ("contains( userId, 'a' )", False),
    ("length( userId )", 0),
    ("lowercase( userId )", None),
    ("typeof( userId )", "null"),
    ("match( userId, '*' )", False),
    # functions on values
    ("length( 'ア' )", 3), ("length( 'a' )", 1), ("length( properties.list )", 2),
    ("lowercase( 'AbC' )", "abc"), ("uppercase( 'AbC' )", "ABC"),
    ("snakecase( 'test string' )", "test_string"), ("kebabcase( 'test string' )", "test-string"),
    ("titlecase( 'test string' )", "Test String"),
    ("typeof( 'x' )", "string"), ("typeof( 1.5 )", "number"), ("typeof( true )", "bool"),
    ("typeof( properties.list )", "list"), ("typeof( properties )", "object"),
    ("bool( 0 )", False), ("bool( 2 )", True), ("bool( 'true' )", True), ("bool( null )", False),
    ("bool( properties.list )", True),
    ("string( 12 )", "12"), ("string( 'x' )", "x"), ("string( properties.list )", '[1,"a"]'),
    ("number( '12.5' )", 12.5), ("number( '12' )", 12), ("number( 'x' )", None),
    ("contains( 'abc', 'b' )", True), ("contains( 1, 'b' )", False),
])
def test_functions_and_their_null_defaults(expression, value):
    assert compile_expression(expression)({"properties": {"list": [1, "a"]}}) == value


def test_length_compares_as_a_number_and_is_not_a_number_for_an_object():
    assert compile_fql("length( userId ) > 0")({"userId": "u1"})
    assert not compile_fql("length( userId ) > 0")({})
    assert not compile_fql("length( properties ) >= 0")({"properties": {"a": 1}})


@pytest.mark.parametrize("text,pattern,expected", [
    # the page's glob table
    ("abcd", "a*d", True), ("", "*", True), ("abc", "ab", False), ("abcd", "a??d", True),
    ("abcd", "*d", True), ("ab*d", r"ab\*d", True), ("abCd", "ab[cC]d", True),
    ("abcd", "ab[a-z]d", True), ("abcd", "ab[A-Z]d", False),
    # segmentio/glob: no special separator; negated classes; malformed patterns match nothing
    ("ab/c", "a*", True), ("abcd", "ab[^c]d", False), ("abxd", "ab[^c]d", True),
    ("abc", "ab[c", False), ("abc", "abc\\", False), ("a.c", "a.c", True), ("abc", "a.c", False),
])
def test_glob(text, pattern, expected):
    assert glob_match(text, pattern) is expected
    assert compile_fql(f"match( properties.t, '{pattern}' )")({"properties": {"t": text}}) is expected


@pytest.mark.parametrize("expression,position,words", [
    ("userId = oops\"", 14, "unterminated string"),
    ("type = 'track')", 15, "unexpected ')'"),
    ("type = ", 8, "expected a value"),
    ("(type = 'track'", 16, "expected ')'"),
    ("shout( event )", 1, "unknown function 'shout'"),
    ("contains( event )", 1, "takes 2 arguments"),
    ("type = 'a' and", 15, "expected a value"),
    ("properties. = 1", 13, "a field name after '.'"),
    ("type == 'track'", 7, "expected a value"),
    ("event = 'x' # comment", 13, "unexpected character '#'"),
    ("type in ['a' 'b']", 14, "expected ',' or ']'"),
    ("", 1, "empty expression"),
])
def test_parse_errors_give_the_position(expression, position, words):
    with pytest.raises(FqlError) as caught:
        compile_fql(expression)
    assert caught.value.position == position
    assert words in str(caught.value) and str(caught.value).endswith(f"at position {position}")


def test_js_json_writes_numbers_and_text_as_javascript_does():
    assert js_json([1.0, 2.5, 1e-7, "ü\n", {"b": 1, "a": None}]) == '[1,2.5,1e-7,"ü\\n",{"b":1,"a":null}]'
