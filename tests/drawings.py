"""Small drawings made for tests: a portrait sheet with a printed figure label, to turn sideways."""
from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def labelled_sheet(label: str = "FIG. 1", *, framed: bool = False) -> Image.Image:
    """A portrait sheet: a framed device with a few lines and its printed ``label`` below it; ``framed``: a
    border near the sheet's edges too (a drawing that fills its sheet)."""
    try:
        font = ImageFont.truetype(FONT, 64)
    except OSError:
        pytest.skip(f"{FONT} (fonts-dejavu) is not installed")
    im = Image.new("L", (1100, 1500), 255)
    draw = ImageDraw.Draw(im)
    if framed:
        draw.rectangle((20, 20, 1080, 1480), outline=0, width=6)
    draw.rectangle((250, 200, 850, 900), outline=0, width=6)
    draw.ellipse((400, 350, 700, 650), outline=0, width=5)
    draw.line((250, 900, 550, 1050), fill=0, width=4)
    draw.text((420, 1150), label, fill=0, font=font)
    return im
