"""Language-informed captions for figures (see :mod:`.template` and :mod:`.llm`)."""
from __future__ import annotations

from backend.ingest.captioning.base import Captioner, CaptioningError, FigureContext


class NoCaptioner:
    """``PRISM_CAPTIONER=none``: figures get no captions (search reads their description and title)."""

    name = "none"

    def caption(self, figures: list[FigureContext]) -> list[list[str]]:
        return [[] for _ in figures]


def get_captioner(settings) -> Captioner:
    if settings.captioner == "llm":
        from backend.ingest.captioning.llm import LLMCaptioner

        return LLMCaptioner(settings.llm_base_url, settings.llm_model, settings.llm_api_key,
                            settings.llm_timeout_s, settings.llm_retries, settings.llm_captions_per_figure,
                            cache_dir=settings.data_dir / "cache" / "captions", max_workers=settings.llm_concurrency,
                            response_format=settings.llm_response_format, cpc_titles_dir=settings.cpc_titles_dir)
    if settings.captioner == "none":
        return NoCaptioner()
    from backend.ingest.captioning.template import TemplateCaptioner

    return TemplateCaptioner(settings.cpc_titles_dir)


def caption_figures(captioner: Captioner, figures: list[FigureContext]) -> tuple[list[list[str]], list[str]]:
    """Captions per figure and the notes for the job (an LLM answer replaced by the template's)."""
    noted = getattr(captioner, "caption_noted", None)
    if noted is not None:
        return noted(figures)
    return captioner.caption(figures), []


__all__ = ["Captioner", "CaptioningError", "FigureContext", "caption_figures", "get_captioner"]
