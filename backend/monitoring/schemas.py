"""apiflask (marshmallow) schemas for the watches and alerts API."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import URL, Boolean, DateTime, Dict, Float, Integer, List, Nested, String
from apiflask.validators import Length, Range
from marshmallow import ValidationError, validates_schema

from backend.monitoring.watches import MAX_SCHEDULE_S, MAX_SHORTLIST

MAX_DB_INT = 2**31 - 1


def _no_nul(value):
    if value is not None and "\x00" in value:
        raise ValidationError("must not contain NUL characters")


def _strings(**kw):
    validators = [_no_nul]
    if "length" in kw:
        validators.append(kw.pop("length"))
    return String(validate=validators, **kw)


_QUERY_DOC = ("A search request as for POST /search (text and/or image_figure_id, weights, fusion, filters). "
              "A run restricts it to newly ingested patents and sets size, cursor, group_by_patent itself.")


class WatchIn(Schema):
    name = _strings(required=True, length=Length(1, 255), metadata={"description": "What the watch is for."})
    owner = _strings(length=Length(1, 255), metadata={
        "description": "Owner name; defaults to the calling key's name (only admin keys may set another)."})
    query = Dict(required=True, metadata={"description": _QUERY_DOC, "example": {
        "text": "graphical user interface", "filters": {"locarno": {"include": ["14-04"]}}}})
    min_score = Float(allow_none=True, metadata={"description": "Alert only on hits scoring at least this."})
    max_rank = Integer(allow_none=True, validate=Range(1, 1000), metadata={
        "description": "Alert only on the best N hits among a run's new patents."})
    schedule_s = Integer(validate=Range(1, MAX_SCHEDULE_S), metadata={
        "description": "Seconds between runs (at least settings.watch_min_schedule_s; default one day)."})
    webhook_url = URL(allow_none=True, require_tld=False, schemes={"http", "https"},
                      validate=[_no_nul, Length(1, 2048)],
                      metadata={"description": "http(s) URL receiving signed alert POSTs."})
    webhook_secret = _strings(allow_none=True, length=Length(16, 128), load_only=True, metadata={
        "description": "HMAC secret for X-Prism-Signature; generated (and shown once) when omitted."})
    active = Boolean(metadata={"description": "Paused watches do not run."})
    shortlist = List(_strings(length=Length(1, 64)), allow_none=True, validate=Length(max=MAX_SHORTLIST),
                     metadata={"description": "Publication numbers the examiner shortlisted from the results "
                                              "(kept with the watch, canonical spelling, each once).",
                               "example": ["USD0917866", "USD0917867"]})


class WatchPatch(WatchIn):
    name = _strings(length=Length(1, 255))
    query = Dict()

    @validates_schema
    def _not_empty(self, data, **_):
        if not data:
            raise ValidationError("give at least one field to change")


class LastRunOut(Schema):
    status = String()
    from_seq = Integer()
    to_seq = Integer()
    alerts_created = Integer()
    error = String(allow_none=True)
    started_at = DateTime(allow_none=True)
    finished_at = DateTime(allow_none=True)


class WatchOut(Schema):
    id = Integer()
    name = String()
    owner = String()
    query = Dict()
    min_score = Float(allow_none=True)
    max_rank = Integer(allow_none=True)
    schedule_s = Integer()
    webhook_url = String(allow_none=True)
    has_webhook_secret = Boolean()
    webhook_secret = String(metadata={"description": "Present only in the answer that generated it."})
    active = Boolean()
    shortlist = List(String(), metadata={"description": "Shortlisted publication numbers (may be empty)."})
    high_water_seq = Integer(metadata={"description": "Ingest sequence up to which filings were checked."})
    next_run_at = DateTime(allow_none=True)
    created_at = DateTime()
    updated_at = DateTime()
    last_run = Nested(LastRunOut, allow_none=True)


class WatchList(Schema):
    items = List(Nested(WatchOut))
    total = Integer()
    limit = Integer()
    offset = Integer()


class PageQuery(Schema):
    limit = Integer(load_default=100, validate=Range(1, 500))
    offset = Integer(load_default=0, validate=Range(0, 1_000_000))


class WatchListQuery(PageQuery):
    owner = _strings(length=Length(1, 255), metadata={"description": "Admin keys only: filter by owner."})


class AlertQuery(PageQuery):
    unread = Boolean(metadata={"description": "1: only unread alerts; 0: only read ones."})
    watch_id = Integer(validate=Range(1, MAX_DB_INT))


class _AlertFields(Schema):
    id = Integer()
    watch_id = Integer()
    watch_name = String(allow_none=True)
    publication_number = String()
    score = Float(allow_none=True)
    rank = Integer(allow_none=True)
    reason = Dict()
    read = Boolean()
    delivery = String(metadata={"description": "none | pending | delivered | failed"})
    delivery_attempts = Integer()
    created_at = DateTime()


class AlertOut(_AlertFields):
    pass


class AlertItem(_AlertFields):
    """An alert in a list (a class of its own: apispec registers nested schemas on first use)."""


class DeliveryOut(Schema):
    attempt = Integer()
    url = String()
    status_code = Integer(allow_none=True)
    error = String(allow_none=True)
    succeeded = Boolean()
    attempted_at = DateTime()


class AlertDetail(_AlertFields):
    deliveries = List(Nested(DeliveryOut))


class AlertList(Schema):
    items = List(Nested(AlertItem))
    total = Integer()
    limit = Integer()
    offset = Integer()
