"""The examiner query grammar (lark, LALR with the contextual lexer).

Precedence, loosest first: OR and juxtaposition (``a b`` = ``a OR b``), AND, NOT / ``-``,
NEAR/ADJ, then atoms (words, "phrases", field:value, parentheses). Operators are upper case;
lower-case "and", "or", "not" are ordinary (stop) words.
"""
from __future__ import annotations

from functools import lru_cache

from lark import Lark

_END = r'(?=[\s()"\[\]]|$)'

GRAMMAR = rf"""
start: disj

disj: conj (OR? conj)*
conj: unary (AND unary)*

?unary: NOT unary          -> negation
      | MINUS atom         -> negation
      | prox

?prox: atom
     | atom PROXOP atom    -> proximity

?atom: "(" disj ")"        -> group
     | FIELD ":" value     -> fielded
     | PHRASE SLOP?        -> phrase
     | TERM                -> term

?value: "(" disj ")"       -> group
      | PHRASE SLOP?       -> phrase
      | TERM               -> term
      | "[" RVALUE TO RVALUE "]"   -> range
      | CMP TERM           -> compare

AND.5: /AND{_END}/
OR.5: /OR{_END}/
NOT.5: /NOT{_END}/
TO.5: /TO{_END}/
PROXOP.5: /(NEAR|ADJ)(\/[0-9]+)?{_END}/
FIELD.4: /[A-Za-z]+(?=:)/
CMP.4: />=|<=|>|</
MINUS.3: /-(?=[^\s-])/
SLOP.3: /~[0-9]+/
PHRASE: /"[^"]*"/
TERM: /(?!(AND|OR|NOT|NEAR|ADJ)(\/[0-9]+)?{_END})[^\s()"\[\]~<>=\-][^\s()"\[\]~]*/
RVALUE: /[^\s\[\]]+/

DASH: /-+(?=\s|$)/

%import common.WS
%ignore WS
%ignore DASH
"""


@lru_cache(maxsize=1)
def parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)
