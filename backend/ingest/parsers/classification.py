"""Classification symbols as written in patent XML -> one compact spelling."""
from __future__ import annotations

import re

_IPC_LIKE = re.compile(r"^([A-HY])\s*(\d{2})\s*([A-Z])\s*0*(\d{1,4})\s*/\s*(\d{1,6})$")
_SUBCLASS = re.compile(r"^([A-HY])\s*(\d{2})\s*([A-Z])$")


def compact_symbol(raw: str) -> str | None:
    """``B26B 21/4068`` / ``G06F015/00`` -> ``B26B21/4068`` / ``G06F15/00``; subclass ``A47C`` stays.

    Returns None for text that is not a CPC/IPC symbol (e.g. USPC ``D28 47``).
    """
    text = (raw or "").strip().upper()
    m = _IPC_LIKE.match(text)
    if m:
        sec, cls, sub, main, group = m.groups()
        return f"{sec}{cls}{sub}{int(main)}/{group}"
    m = _SUBCLASS.match(text)
    if m:
        return "".join(m.groups())
    return None


def symbol_from_parts(section: str, cls: str, subclass: str, main_group: str, subgroup: str) -> str | None:
    return compact_symbol(f"{section}{cls}{subclass}{main_group}/{subgroup}")


def locarno_symbol(raw: str) -> str | None:
    """``2803`` / ``28-03`` / ``28.03`` -> ``28-03``; a bare class ``14`` -> ``14``."""
    digits = re.sub(r"\D", "", raw or "")
    if len(digits) == 4:
        return f"{digits[:2]}-{digits[2:]}"
    if len(digits) in (1, 2):
        return digits.zfill(2)
    return None
