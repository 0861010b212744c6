"""A part query's box on a drawing."""
from __future__ import annotations

from pydantic import Field, model_validator

from backend.search.request_filters import _Strict

MIN_CROP_PIXELS = 16


class Crop(_Strict):
    """A box on a drawing in fractions of its width and height (0 to 1, from the top left)."""

    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    width: float = Field(gt=0, le=1)
    height: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _inside(self):
        if self.x + self.width > 1 + 1e-9 or self.y + self.height > 1 + 1e-9:
            raise ValueError("the box reaches past the drawing (x + width and y + height must be at most 1)")
        return self

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) on an image of this size; ValueError when under MIN_CROP_PIXELS a side."""
        box = (round(self.x * width), round(self.y * height), round((self.x + self.width) * width),
               round((self.y + self.height) * height))
        if box[2] - box[0] < MIN_CROP_PIXELS or box[3] - box[1] < MIN_CROP_PIXELS:
            raise ValueError(f"the box is {box[2] - box[0]} x {box[3] - box[1]} pixels of the {width} x {height} "
                             f"drawing; at least {MIN_CROP_PIXELS} pixels a side")
        return box
