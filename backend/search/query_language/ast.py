"""The parsed query: a small tree of frozen dataclasses, rendered back to a normalised string.

Text leaves (:class:`Word`, :class:`Phrase`, :class:`Prox`) search a set of text fields (all five by
default); structured leaves (:class:`Keyword`, :class:`DateRange`) match a keyword or date field.
:class:`Not` only ever appears as a child of an :class:`And` that has a positive child (the parser
guarantees it), so "NOT x" always means "... and not x", never "everything but x".
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: every text field, in the FTS5 column order; the default of an unqualified word
ALL_TEXT = ("title", "abstract", "claims", "description", "captions")
#: qualifier -> text fields
TEXT_QUALIFIERS = {"ti": ("title",), "ab": ("abstract",), "cl": ("claims",), "desc": ("description",),
                   "fig": ("description", "captions")}


def _qualifier(fields: tuple[str, ...]) -> str:
    if fields == ALL_TEXT:
        return ""
    for name, flds in TEXT_QUALIFIERS.items():
        if flds == fields:
            return f"{name}:"
    return "{" + " ".join(fields) + "}:"


@dataclass(frozen=True)
class Word:
    """One word; ``wildcard``: it holds ``*`` (trailing only) and/or ``?`` (one character)."""

    text: str
    fields: tuple[str, ...] = ALL_TEXT
    position: int = 0

    @property
    def wildcard(self) -> bool:
        return "*" in self.text or "?" in self.text

    @property
    def prefix_only(self) -> bool:
        """``wash*``: a plain prefix (FTS5 and ES both have these natively)."""
        return self.text.endswith("*") and "?" not in self.text and self.text.count("*") == 1

    def render(self) -> str:
        return f"{_qualifier(self.fields)}{self.text}"


@dataclass(frozen=True)
class Phrase:
    """Words in this order, next to each other; with ``slop``: in any order, with at most ``slop`` other
    words between them in total."""

    words: tuple[str, ...]
    fields: tuple[str, ...] = ALL_TEXT
    slop: int | None = None
    position: int = 0

    def render(self) -> str:
        slop = f"~{self.slop}" if self.slop is not None else ""
        return f'{_qualifier(self.fields)}"{" ".join(self.words)}"{slop}'


@dataclass(frozen=True)
class Prox:
    """``left NEAR/n right`` (either order) or ``left ADJ/n right`` (right after left): at most ``distance``
    other words between them, in the same field."""

    left: Word | Phrase
    right: Word | Phrase
    distance: int
    ordered: bool
    fields: tuple[str, ...] = ALL_TEXT
    position: int = 0

    def render(self) -> str:
        op = "ADJ" if self.ordered else "NEAR"
        inner = f"{_bare(self.left)} {op}/{self.distance} {_bare(self.right)}"
        q = _qualifier(self.fields)
        return f"{q}({inner})" if q else inner


def _bare(node: Word | Phrase) -> str:
    return node.text if isinstance(node, Word) else '"' + " ".join(node.words) + '"'


@dataclass(frozen=True)
class Keyword:
    """A keyword field equals ``value`` (``prefix``: starts with it); ``label`` is how it renders."""

    field: str
    value: str
    prefix: bool = False
    label: str = ""
    position: int = 0

    def render(self) -> str:
        return self.label


@dataclass(frozen=True)
class DateRange:
    """``field`` between ``gte`` and ``lte`` (ISO dates, inclusive; None: open)."""

    field: str
    gte: str | None
    lte: str | None
    qualifier: str = ""
    position: int = 0

    def render(self) -> str:
        return f"{self.qualifier}:[{self.gte or '*'} TO {self.lte or '*'}]"


@dataclass(frozen=True)
class Not:
    child: Node

    def render(self) -> str:
        return f"NOT {_wrapped(self.child)}"


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]

    def render(self) -> str:
        return " AND ".join(_wrapped(c) for c in self.children)


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]

    def render(self) -> str:
        return " OR ".join(_wrapped(c) for c in self.children)


Node = Word | Phrase | Prox | Keyword | DateRange | Not | And | Or
TEXT_LEAVES = (Word, Phrase, Prox)


def _wrapped(node: Node) -> str:
    return f"({node.render()})" if isinstance(node, (And, Or)) else node.render()


def leaves(node: Node, negated: bool = False) -> Iterator[tuple[Node, bool]]:
    """(leaf, negated) pairs of the tree, left to right."""
    if isinstance(node, (And, Or)):
        for child in node.children:
            yield from leaves(child, negated)
    elif isinstance(node, Not):
        yield from leaves(node.child, not negated)
    else:
        yield node, negated


def positive_text_leaves(node: Node) -> list[Word | Phrase | Prox]:
    """The text leaves a match is scored and highlighted on (not those under NOT)."""
    return [leaf for leaf, neg in leaves(node) if not neg and isinstance(leaf, TEXT_LEAVES)]
