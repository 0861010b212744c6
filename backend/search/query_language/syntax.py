"""The faults a query is refused for before it becomes a tree: unbalanced parentheses and quotes, nesting
too deep, and lark's syntax errors as a :class:`QueryError` in the examiner's words with its position."""
from __future__ import annotations

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from backend.search.query_language.errors import QueryError

#: parentheses and NOT/- nested deeper than this are refused (the tree is walked recursively)
MAX_NESTING = 32


def check_balance(text: str) -> None:
    opened: list[int] = []
    in_quote = None
    for i, ch in enumerate(text, 1):
        if ch == '"':
            in_quote = None if in_quote else i
        elif in_quote:
            continue
        elif ch == "(":
            opened.append(i)
        elif ch == ")":
            if not opened:
                raise QueryError("unbalanced parenthesis: ')' has no matching '('", i)
            opened.pop()
    if in_quote:
        raise QueryError('unterminated quote: \'"\' is never closed', in_quote)
    if opened:
        raise QueryError("unbalanced parenthesis: '(' is never closed", opened[-1])


def check_nesting(tree: Tree) -> None:
    """400 for groups and negations nested more than :data:`MAX_NESTING` deep (walked without recursion,
    before anything recursive sees the tree)."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if node.data in ("group", "negation"):
            depth += 1
            if depth > MAX_NESTING:
                token = next((t for t in node.scan_values(lambda v: isinstance(v, Token))), None)
                raise QueryError(f"the query nests parentheses and NOT/- more than {MAX_NESTING} levels deep",
                                 token.start_pos + 1 if token is not None else None)
        stack.extend((child, depth) for child in node.children if isinstance(child, Tree))


def syntax_error(text: str, exc: UnexpectedInput) -> QueryError:
    if isinstance(exc, UnexpectedCharacters):
        return QueryError(f"unexpected character {text[exc.pos_in_stream]!r}", exc.pos_in_stream + 1)
    token = getattr(exc, "token", None)
    if isinstance(exc, UnexpectedEOF) or (isinstance(token, Token) and token.type == "$END"):
        last = text.rstrip().split()[-1] if text.strip() else ""
        return QueryError(f"the query ends after {last!r}: an operator or field needs a term after it",
                          len(text.rstrip()))
    assert isinstance(exc, UnexpectedToken)
    pos = token.start_pos + 1
    value = str(token)
    before = text[:token.start_pos].rstrip()
    if token.type == "RPAR" or value == ")":
        if before.endswith("("):
            return QueryError("empty group '()'", pos)
        return QueryError(f"unexpected ')' after {before[-10:]!r}", pos)
    if token.type in ("AND", "OR"):
        return QueryError(f"{value} needs a term on both sides", pos)
    if token.type == "PROXOP":
        return QueryError(f"{value} needs a word or phrase on both sides and cannot be chained "
                          "(write (a NEAR/n b) AND (b NEAR/n c))", pos)
    if token.type == "SLOP":
        return QueryError(f"{value} only follows a quoted phrase (\"a b\"{value})", pos)
    if token.type == "TO":
        return QueryError("TO only appears inside a range: pd:[2020-01-01 TO 2021-12-31]", pos)
    if token.type == "CMP":
        return QueryError(f"{value} only follows a date field: pd:{value}2020", pos)
    return QueryError(f"unexpected {value!r}", pos)
