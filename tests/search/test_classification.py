"""Classification symbols: parsing, normalisation, levels, validation against the official lists."""
from __future__ import annotations

import pytest

from backend.classification import (
    CpcCatalog,
    SymbolError,
    locarno_classes,
    parse,
    suggest,
    validate,
)


@pytest.mark.parametrize("raw", ["H01L 21/02", "H01L21/02", "H01L0021020000", "h01l 21/02", " H01L  21 / 02 ",
                                 "H01L 21/02 (2006.01)", "H01L 021/020"])
def test_cpc_spellings_normalise(raw):
    sym = parse(raw, "cpc")
    assert sym.symbol == "H01L21/02" and sym.level == "subgroup"
    assert sym.levels() == {"section": "H", "class": "H01", "subclass": "H01L", "main_group": "H01L21/00",
                            "symbol": "H01L21/02"}


@pytest.mark.parametrize("raw, symbol, level", [
    ("H", "H", "section"), ("h01", "H01", "class"), ("H01L", "H01L", "subclass"), ("H01L 21", "H01L21/00", "main_group"),
    ("H01L21/00", "H01L21/00", "main_group"), ("B26B 21/4068", "B26B21/4068", "subgroup"),
    ("B26B0021406800", "B26B21/4068", "subgroup"), ("A47C0007620000", "A47C7/62", "subgroup"),
    ("Y02E 10/50", "Y02E10/50", "subgroup"), ("G06F 3/0482", "G06F3/0482", "subgroup"),
])
def test_cpc_levels(raw, symbol, level):
    sym = parse(raw, "cpc")
    assert (sym.symbol, sym.level) == (symbol, level)


@pytest.mark.parametrize("raw", ["", "X01L", "H1L", "H01L 21/0", "H01L 0/02", "chair", "H01L21/02/03", "06-01"])
def test_malformed_cpc_names_the_symbol(raw):
    with pytest.raises(SymbolError) as err:
        parse(raw, "cpc")
    assert repr(raw) in str(err.value)


def test_ipc_has_no_y_section():
    assert parse("H01L 21/02", "ipc").symbol == "H01L21/02"
    with pytest.raises(SymbolError):
        parse("Y02E 10/50", "ipc")


@pytest.mark.parametrize("raw", ["06-01", "0601", "6-1", "LOC (13) Cl. 06-01", "06.01", "6 01"])
def test_locarno_spellings(raw):
    sym = parse(raw, "locarno")
    assert (sym.symbol, sym.klass, sym.level) == ("06-01", "06", "subclass")
    assert sym.levels() == {"class": "06", "subclass": "06-01"}


def test_locarno_class_only_and_errors():
    assert parse("6", "locarno").symbol == "06" and parse("06", "locarno").level == "class"
    for bad in ("", "123456", "abc", "00-01"):
        with pytest.raises(SymbolError):
            parse(bad, "locarno")
    with pytest.raises(SymbolError, match="not a Locarno class"):
        validate("33-01", "locarno")


def test_locarno_has_32_class_headings():
    classes = locarno_classes()
    assert list(classes) == [f"{i:02d}" for i in range(1, 33)]
    assert classes["06"] == "Furnishing"


def _catalog(tmp_path):
    (tmp_path / "cpc-section-A_20220801.txt").write_bytes(
        b"A\t\tHUMAN NECESSITIES\r\nA47\t\tFURNITURE\r\nA47C\t\tCHAIRS; SOFAS; BEDS\r\n"
        b"A47C7/00\t0\tParts, details, or accessories of chairs or stools\r\n"
        b"A47C7/62\t1\tAccessories for chairs\r\nA47C7/622\t2\t{Receptacles}\r\n")
    return CpcCatalog(tmp_path)


def test_validation_against_a_title_list(tmp_path):
    catalog = _catalog(tmp_path)
    assert validate("A47C 7/62", "cpc", catalog).symbol == "A47C7/62"
    with pytest.raises(SymbolError, match="A47C7/63 is not in the CPC title list"):
        validate("A47C0007630000", "cpc", catalog)
    assert catalog.title("A47C7/622") == "{Receptacles}"


def test_without_a_title_list_only_syntax_is_checked(tmp_path):
    catalog = CpcCatalog(tmp_path / "absent")
    assert not catalog.available
    assert validate("A99Z 1/00", "cpc", catalog).symbol == "A99Z1/00"
    with pytest.raises(SymbolError):
        validate("A9", "cpc", catalog)
    assert suggest("A47", "cpc", catalog) == []


def test_suggest_prefix_and_words(tmp_path):
    catalog = _catalog(tmp_path)
    assert [i["symbol"] for i in suggest("a47c 7/6", "cpc", catalog)] == ["A47C7/62", "A47C7/622"]
    assert suggest("A47C", "cpc", catalog, limit=2)[0] == {"symbol": "A47C", "title": "CHAIRS; SOFAS; BEDS",
                                                          "level": "subclass"}
    assert [i["symbol"] for i in suggest("accessories chairs", "cpc", catalog)] == ["A47C7/00", "A47C7/62"]
    assert suggest("furnish", "locarno", catalog) == [{"symbol": "06", "title": "Furnishing", "level": "class"}]
    assert suggest("14-04", "locarno", catalog)[0]["symbol"] == "14-04"


@pytest.mark.shared_data
def test_the_official_cpc_list(shared_data):
    catalog = CpcCatalog(shared_data / "cpc_titles")
    assert validate("H01L0021020000", "cpc", catalog).symbol == "H01L21/02"
    assert catalog.title("A47C4/04") == "Folding chairs with inflexible seats"
    with pytest.raises(SymbolError):
        validate("H01L 21/99999", "cpc", catalog)
    assert suggest("A47C 4/0", "cpc", catalog)[0]["symbol"] == "A47C4/00"
