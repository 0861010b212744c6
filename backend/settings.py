"""One settings object, read from the environment (prefix ``PRISM_``).

Every field documents its default. A bad value raises :class:`SettingsError` whose
message is one line naming the environment variable.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = (REPO_ROOT.parent / "shared" / "data").resolve()
_INDEX_PREFIX = re.compile(r"[a-z0-9][a-z0-9._-]{0,199}")


class SettingsError(RuntimeError):
    """A configuration value is invalid; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRISM_", extra="ignore", case_sensitive=False)

    # -- storage ---------------------------------------------------------------------------------
    data_dir: Path = Field(default=REPO_ROOT / "var", description="Root for SQLite, embedded index, blobs.")
    database_url: str = Field(default="", description="SQLAlchemy URL; default sqlite in data_dir.")
    blob_store: Literal["fs", "s3"] = "fs"
    blob_dir: Path | None = Field(default=None, description="Filesystem blob root; default data_dir/blobs.")
    s3_endpoint_url: str = Field(default="", description="S3-compatible endpoint (MinIO, Ceph); empty: AWS.")
    s3_bucket: str = "prism"
    s3_region: str = Field(default="us-east-1", description="Region for request signing (credentials: the "
                           "standard AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables or files).")

    # -- search ----------------------------------------------------------------------------------
    search_backend: Literal["embedded", "elasticsearch"] = "embedded"
    embedded_dir: Path | None = Field(default=None, description="Embedded index dir; default data_dir/index.")
    es_url: str = "http://127.0.0.1:9200"
    es_index_prefix: str = "prism"
    es_num_candidates: int = Field(default=200, ge=1, le=10000)
    es_request_timeout: float = Field(default=30.0, gt=0)
    knn_similarity_floor: float | None = None
    rrf_k: int = Field(default=60, ge=1)
    cpc_titles_dir: Path = SHARED_DATA / "cpc_titles"

    # -- queue -----------------------------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"
    broker_url: str = Field(default="", description="Celery broker; default redis_url.")
    task_mode: Literal["eager", "celery"] = Field(
        default="eager", description="eager runs tasks in-process (embedded default); celery sends them."
    )
    visibility_timeout_s: int = Field(default=3600, ge=60)

    # -- model -----------------------------------------------------------------------------------
    model_name: str = Field(default="prism-draw", description="open_clip model config name.")
    checkpoint: Path | None = Field(default=None, description="Local open_clip checkpoint (.pt).")
    device: str = Field(default="auto", description="auto | cpu | cuda")
    embed_batch_size: int = Field(default=32, ge=1, le=4096)

    # -- captioning ------------------------------------------------------------------------------
    captioner: Literal["template", "llm", "none"] = Field(default="template", description=(
        "template: deterministic captions (the default, docs/benchmarks.md 'LLM vs template captions'); llm: "
        "an OpenAI-compatible endpoint (PRISM_LLM_*; `prism services up llm` for a local one); none: no captions."))
    llm_base_url: str = ""
    llm_model: str = "gpt-4o-mini"
    llm_api_key: str = ""
    llm_timeout_s: float = Field(default=60.0, gt=0)
    llm_retries: int = Field(default=3, ge=0, le=20)
    llm_captions_per_figure: int = Field(default=3, ge=1, le=20)
    llm_concurrency: int = Field(default=4, ge=1, le=64, description="Caption requests in flight per batch.")
    llm_response_format: Literal["auto", "json_schema", "json_object", "none"] = Field(default="auto", description=(
        "How the answer's JSON schema is sent: json_schema (OpenAI, vLLM), json_object + schema (llama.cpp's "
        "server), auto (json_schema, then json_object when refused), none."))

    # -- API -------------------------------------------------------------------------------------
    auth_required: bool = True
    rate_limit_per_minute: int = Field(default=600, ge=1)
    max_upload_mb: float = Field(default=20.0, gt=0)
    max_image_pixels: int = Field(default=60_000_000, ge=1)

    # -- operations: logs (docs/operations.md) ------------------------------------------------------
    log_format: Literal["auto", "json", "text"] = Field(default="auto", description=(
        "json: one JSON object per line (production); text: readable lines; auto: text on a terminal, json "
        "otherwise."))
    log_level: Literal["debug", "info", "warning", "error", "DEBUG", "INFO", "WARNING", "ERROR"] = "info"

    # -- ingest of scanned and multi-figure drawing sheets -----------------------------
    ingest_sheet_ocr: bool = Field(default=True, description=(
        "Read the FIG. labels printed on USPTO drawing sheets (OCR, tesseract) when the description does "
        "not tell which figures a sheet holds (fewer sheets than figures); off: the order decides."))
    max_pdf_pages: int = Field(default=500, ge=1, description=(
        "A scanned PDF with more pages is refused (prism ingest file.pdf); patents rarely pass 200."))
    pdf_dpi: int = Field(default=200, ge=72, le=600, description="Resolution scanned PDF pages are rendered at.")
    ingest_split_figures: bool = Field(default=True, description=(
        "Split a drawing sheet holding several figures into one indexed figure per region (its own vector and "
        "verification features; the sheet kept for display with the figure's box); off: one figure per sheet."))

    # -- monitoring: watches, alerts, webhooks ------------------------------------------
    watch_beat_interval_s: float = Field(default=60.0, gt=0, description="How often beat enqueues run_due.")
    watch_min_schedule_s: int = Field(default=300, ge=1, description="Shortest schedule a watch may have.")
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Connect+read timeout per attempt.")
    webhook_max_attempts: int = Field(default=8, ge=1, le=30)
    webhook_backoff_s: float = Field(default=10.0, gt=0, description="First retry delay; doubles per attempt.")
    watch_check_on_ingest: bool = Field(default=False, description=(
        "Also check each newly ingested patent against every active watch (without a rank threshold) as "
        "soon as it is indexed, instead of only at the watch's next scheduled run."))
    webhook_allowed_networks: str = Field(default="", description=(
        "Comma-separated addresses / CIDR networks that may receive webhooks although they are not public "
        "(loopback, private, link-local...; see backend/monitoring/webhook_targets.py). Empty: public only."))

    # -- fault recovery ----------------------------------------------------------------
    job_stale_after_s: int = Field(default=900, ge=30, description=(
        "An ingest job queued or running this long with no live owner is re-driven by the reconciler "
        "(worker start, beat, `prism jobs recover`) and may be retried."))
    job_reconcile_interval_s: float = Field(default=300.0, gt=0, description="How often beat runs the reconciler.")
    job_enqueue_grace_s: float = Field(default=30.0, ge=0, description=(
        "celery mode: a queued job this old that no broker message names was lost with the broker."))

    # -- search core --------------------------------------------------------------------
    search_rank_window: int = Field(default=100, ge=10, le=10000, description=(
        "Entries each ranked list (BM25, vector) contributes before fusion; pages walk the fused list."))
    search_drawing_window: int = Field(default=1000, ge=10, le=10000, description=(
        "A query with a drawing (or a vector) ranks this many nearest figures before its tail in drawing order: "
        "the class consensus re-orders within them (search_rank_window for text-only queries)."))
    search_verify_top_k: int = Field(default=75, ge=0, le=1000, description=(
        "A drawing query re-ranks this many nearest figures by geometric verification (local features + "
        "RANSAC, backend/search/ranking/verification.py): re-published copies of the drawing go first; 0: off."))
    search_verify_turned_k: int = Field(default=25, ge=0, le=1000, description=(
        "An uploaded drawing also has this many figures nearest it turned by 90 and by 270 degrees verified "
        "(a sideways sheet published upright, or the other way round); 0: off."))
    search_split_views: bool = Field(default=False, description=(
        "An uploaded sheet that is clearly several figures (backend/ingest/figure_regions.py clear_views) is "
        "searched as those figures plus the whole sheet, fused per patent (a request's split_views overrides; "
        "docs/benchmarks.md has the measurement behind the default)."))
    search_class_consensus_k: int = Field(default=30, ge=0, le=1000, description=(
        "The vector list of a query is re-ordered by the classes of its this many nearest figures: a figure "
        "gains weight x the (similarity-weighted) share of them carrying its CPC/IPC subclass or Locarno class "
        "(backend/search/ranking/class_consensus.py); 0: off."))
    search_class_consensus_weight: float = Field(default=16.0, ge=0, le=100, description=(
        "The weight of the class-consensus share against the cosine similarity (see search_class_consensus_k)."))
    search_patent_consensus_weight: float = Field(default=2.0, ge=0, le=100, description=(
        "The weight of the share of the class-consensus voters that come from a figure's own patent: a patent "
        "with several sheets among the nearest lifts its other sheets (other views); 0: off."))
    search_class_consensus_temperature: float = Field(default=0.07, ge=0, le=10, description=(
        "The consensus voters weigh exp((cosine - the closest's cosine) / this): closer drawings count more; "
        "0: each of the k nearest counts once."))
    search_class_consensus_head: int = Field(default=10, ge=0, le=1000, description=(
        "The consensus leaves this many drawings closest to the query at the top, in similarity order (a close "
        "match is never hidden); it re-orders only below them."))
    search_class_consensus_band: float | None = Field(default=0.5, ge=0, le=2, description=(
        "Below the kept head the consensus re-orders only within this cosine band: a figure never goes above one "
        "more than this much more similar to the query; unset: no band."))
    search_text_to_image: bool = Field(default=False, description=(
        "Also encode a text query with the encoder and rank figures by image-vector similarity."))
    search_dense_text: bool = Field(default=True, description=(
        "Fuse a MiniLM text-vector kNN list with BM25 (RRF) for plain-word queries (docs/search.md)."))
    search_dense_min_similarity: float = Field(default=0.3, ge=-1, le=1, description=(
        "Cosine a patent's MiniLM text vector needs to enter the dense list (unrelated text stays out)."))
    search_exact_total_up_to: int = Field(default=10_000, ge=0, description=(
        "Elasticsearch: `total` is exact while the text matches at most this many figures (per shard); past "
        "that it is a lower bound (`total_relation` \"gte\") counted from that many matches. 0: always exact. "
        "The embedded backend always counts exactly."))
    dense_text_at_ingest: bool = Field(default=True, description=(
        "Compute the MiniLM text vector (title + abstract + first claim) of each patent at ingest."))
    ingest_caption_vectors: bool = Field(default=False, description=(
        "Also encode each figure's captions with the drawing encoder's text tower at ingest (the figure's "
        "text_vector: the mean of its caption vectors). No search ranks by them (text -> drawing compares "
        "the query's text vector with the drawings' image vectors); on, captions cost more CPU than drawings."))

    @field_validator("database_url")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    @field_validator("es_index_prefix")
    @classmethod
    def _index_prefix(cls, v: str) -> str:
        # Elasticsearch index names: lowercase, no \ / * ? " < > | space , # :, not starting with - _ + or .,
        # at most 255 bytes (the prefix leaves room for "-figures-v1-<timestamp>" and the lock index)
        if not _INDEX_PREFIX.fullmatch(v or ""):
            raise ValueError("an Elasticsearch index name prefix must be 1-200 characters of lowercase letters, "
                             "digits, '-', '_' and '.', starting with a letter or digit")
        return v

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, v: str) -> str:
        from backend.monitoring.webhook_targets import parse_networks

        parse_networks(v)   # ValueError naming the bad entry
        return v

    # -- derived ---------------------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'prism.db'}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or self.redis_url

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def resolved_embedded_dir(self) -> Path:
        return self.embedded_dir or self.data_dir / "index"

    @property
    def es_hosts(self) -> list[str]:
        """``PRISM_ES_URL`` may list several nodes of one cluster, comma-separated."""
        return [u.strip() for u in self.es_url.split(",") if u.strip()]

    @property
    def webhook_allowed_network_list(self) -> list:
        from backend.monitoring.webhook_targets import parse_networks

        return parse_networks(self.webhook_allowed_networks)


def load_settings(**overrides) -> Settings:
    """Build settings from the environment; one clear line per bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise SettingsError(
            f"PRISM_{field.upper()}: {first['msg'].removeprefix('Value error, ')} (got {first.get('input')!r})"
        ) from None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
