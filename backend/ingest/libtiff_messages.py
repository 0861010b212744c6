"""Collect what libtiff reports while Pillow decodes a TIFF, so a damaged strip is refused.

libtiff's CCITT (G3/G4) decoder recovers from a bad code word by guessing the rest of the line: it
reports the damage through its error/warning handlers (by default printed to stderr) and Pillow still
returns an image, garbled from that line on. :func:`collect` installs one process-wide handler (via
ctypes, on the libtiff Pillow itself loaded) that records messages for the calling thread while the
context is active; :func:`decoding_problems` keeps those that concern the image data (directory and
tag warnings such as an unknown private tag do not make the pixels wrong).

When the libtiff library cannot be found (a Pillow built against the system libtiff under another
name, another platform) :func:`collect` yields an empty list and nothing is checked.
"""
from __future__ import annotations

import ctypes
import glob
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

# libtiff modules whose messages are about the directory / tags, not about the decoded pixels
_DIRECTORY_MODULES = ("TIFFReadDirectory", "TIFFFetchNormalTag", "TIFFReadCustomDirectory",
                      "TIFFFetchStripThing", "TIFFReadDirectoryCheckOrder", "TIFFAdvanceDirectory",
                      "_TIFFVSetField", "TIFFFetchDirectory", "TIFFReadDirEntryArray")
_HANDLER_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)

_local = threading.local()
_install_lock = threading.Lock()
_state: dict = {"installed": None}   # None: not tried; False: unavailable; True: installed


def _find_libtiff() -> str | None:
    import PIL

    here = os.path.dirname(PIL.__file__)
    for pattern in (os.path.join(here, "..", "pillow.libs", "libtiff*.so*"),   # manylinux wheels
                    os.path.join(here, ".dylibs", "libtiff*.dylib")):          # macOS wheels
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    import ctypes.util

    return ctypes.util.find_library("tiff")


def _handler(module: bytes | None, fmt: bytes | None, args) -> None:
    sink = getattr(_local, "messages", None)
    text = (fmt or b"").decode("utf-8", "replace")
    try:
        buf = ctypes.create_string_buffer(512)
        _state["libc"].vsnprintf(buf, len(buf), fmt, ctypes.c_void_p(args))
        text = buf.value.decode("utf-8", "replace")
    except Exception:  # pragma: no cover - keep the unformatted text
        pass
    where = (module or b"").decode("utf-8", "replace")
    if sink is None:   # outside collect(): what libtiff would have printed goes to the log instead
        log.warning("libtiff: %s: %s", where, text)
    else:
        sink.append((where, text))


def _install() -> bool:
    with _install_lock:
        if _state["installed"] is None:
            _state["installed"] = False
            path = _find_libtiff()
            if path:
                try:
                    from PIL import Image  # noqa: F401 - Pillow's _imaging loads its libtiff first

                    lib = ctypes.CDLL(path)
                    _state["libc"] = ctypes.CDLL(None)
                    _state["callback"] = _HANDLER_TYPE(_handler)   # kept alive for the process
                    for name in ("TIFFSetErrorHandler", "TIFFSetWarningHandler"):
                        getattr(lib, name).restype = ctypes.c_void_p
                        getattr(lib, name)(_state["callback"])
                    _state["installed"] = True
                except (OSError, AttributeError) as exc:  # pragma: no cover - platform dependent
                    log.warning("libtiff messages not checked (%s): damaged TIFF strips are not detected", exc)
    return bool(_state["installed"])


@contextmanager
def collect() -> Iterator[list[tuple[str, str]]]:
    """``(module, message)`` pairs libtiff reported in this thread while the block ran."""
    messages: list[tuple[str, str]] = []
    if not _install():
        yield messages
        return
    previous = getattr(_local, "messages", None)
    _local.messages = messages
    try:
        yield messages
    finally:
        _local.messages = previous


def decoding_problems(messages: list[tuple[str, str]]) -> list[str]:
    """The messages that say the image data was damaged (``"Fax4Decode: Bad code word at line 170"``)."""
    return [f"{module}: {text}" if module else text for module, text in messages
            if module not in _DIRECTORY_MODULES]
