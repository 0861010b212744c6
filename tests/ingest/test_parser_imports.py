"""The XML parsers do not import each other in a circle. Each format parser imports only the
shared helpers (parsers/xml_common.py); uspto_xml.parse_document dispatches to them by root element."""
from __future__ import annotations

import ast
from pathlib import Path

PARSERS = Path(__file__).resolve().parents[2] / "backend" / "ingest" / "parsers"
FORMAT_PARSERS = ("epo", "uspto_pap", "uspto_sgml", "uspto_aps", "scanned_pdf", "xml_common")


def _imports(module: str) -> set[str]:
    tree = ast.parse((PARSERS / f"{module}.py").read_text())
    out = set()
    for node in ast.walk(tree):   # also imports inside functions (a lazy import is still a circle)
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_format_parsers_do_not_import_the_dispatcher():
    for module in FORMAT_PARSERS:
        assert "backend.ingest.parsers.uspto_xml" not in _imports(module), module


def test_the_dispatcher_knows_every_xml_format():
    from backend.ingest.parsers import uspto_xml

    assert set(uspto_xml.SUPPORTED_ROOTS.values()) == {"ice", *uspto_xml.OTHER_PARSERS}
