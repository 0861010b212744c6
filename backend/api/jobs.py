"""Ingest jobs: status, the failed ones, retry."""
from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Integer, String
from apiflask.validators import OneOf, Range

from backend.app import app_settings
from backend.auth import require_scope
from backend.ingest import jobs as ingest_jobs

bp = APIBlueprint("jobs", __name__, tag="jobs")


class JobListQuery(Schema):
    status = String(load_default=None, validate=OneOf(["queued", "running", "done", "failed", "stuck"]),
                    metadata={"description": "stuck: queued or running with no live owner (the reconciler's "
                                             "rule; `prism jobs recover` or POST /jobs/<id>/retry re-drives it)"})
    limit = Integer(load_default=50, validate=Range(min=1, max=500))
    offset = Integer(load_default=0, validate=Range(min=0, max=10_000_000))


@bp.get("/jobs")
@require_scope("ingest")
@bp.input(JobListQuery, location="query", arg_name="params")
@bp.doc(summary="List ingest jobs (newest first), e.g. ?status=failed or ?status=stuck; each job says whether "
                "it is stuck (queued or running with no live owner) and why")
def list_jobs(params: dict):
    return ingest_jobs.list_jobs(app_settings(), params.get("status"), params["limit"], params["offset"])


@bp.get("/jobs/<string:job_id>")
@require_scope("ingest")
@bp.doc(summary="One ingest job", responses={404: "no such job"})
def get_job(job_id: str):
    return ingest_jobs.get_job(job_id[:64], app_settings())


@bp.post("/jobs/<string:job_id>/retry")
@require_scope("ingest")
@bp.doc(summary="Run a failed job again", responses={202: "re-queued", 404: "no such job",
                                                     409: "the job has not failed"})
def retry_job(job_id: str):
    return ingest_jobs.retry_job(job_id[:64], app_settings()), 202
