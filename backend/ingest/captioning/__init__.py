"""Language-informed captions for figures (see :mod:`.template` and :mod:`.llm`)."""
from __future__ import annotations

from backend.ingest.captioning.base import Captioner, CaptioningError, FigureContext


def get_captioner(settings) -> Captioner:
    if settings.captioner == "llm":
        from backend.ingest.captioning.llm import LLMCaptioner

        return LLMCaptioner(settings.llm_base_url, settings.llm_model, settings.llm_api_key,
                            settings.llm_timeout_s, settings.llm_retries, settings.llm_captions_per_figure,
                            cache_dir=settings.data_dir / "cache" / "captions")
    from backend.ingest.captioning.template import TemplateCaptioner

    return TemplateCaptioner(settings.cpc_titles_dir)


__all__ = ["Captioner", "CaptioningError", "FigureContext", "get_captioner"]
