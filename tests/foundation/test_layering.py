"""Which part of the code may import which: the layers, the search core without HTTP, the server without
the trainer, and no import cycles.

Every rule reads the source (``import`` statements anywhere in a module, the ones inside functions
too), so a rule also holds for code paths no test runs. The layers, lowest first::

    foundation  settings, errors, db, classification, patent numbers, task queue port, observability
    model       the runtime drawing encoder (backend/model: encoder, registry, drawing, thumbnail, line
                descriptors)
    services    search, ingest, monitoring, auth, backup, warm-up
    http        backend/api, the Flask app, wsgi, the UI, readiness, the HTTP metrics middleware
    entry       command lines, the demo, the dev services, and the trainer (backend/training)

A module imports its own layer and the layers below it, never one above. ``backend/`` never imports
``workers/`` (it enqueues through backend/task_queue.py).
"""
from __future__ import annotations

import ast
from functools import cache

from backend.settings import REPO_ROOT

LAYERS = ("foundation", "model", "services", "http", "entry")
#: module prefix -> layer; the longest prefix that matches a module decides
LAYER_OF = {
    "backend": "foundation",
    "backend.settings": "foundation",
    "backend.errors": "foundation",
    "backend.db": "foundation",
    "backend.classification": "foundation",
    "backend.patent_numbers": "foundation",
    "backend.task_queue": "foundation",
    "backend.observability": "foundation",
    "backend.model": "model",
    "backend.search": "services",
    "backend.ingest": "services",
    "backend.monitoring": "services",
    "backend.auth": "services",
    "backend.backup": "services",
    "backend.warmup": "services",
    "backend.api": "http",
    "backend.app": "http",
    "backend.wsgi": "http",
    "backend.ui": "http",
    "backend.readiness": "http",
    "backend.observability.http": "http",
    "backend.__main__": "entry",
    "backend.cli": "entry",
    "backend.cli_db": "entry",
    "backend.cli_output": "entry",
    "backend.cli_services": "entry",
    "backend.demo": "entry",
    "backend.demo_captions": "entry",
    "backend.devservices": "entry",
    "backend.devcluster": "entry",
    "backend.search.cli": "entry",
    "backend.search.search_cli": "entry",
    "backend.ingest.cli": "entry",
    "backend.training": "entry",
}
#: (importer, imported) pairs allowed across the layers, each with its reason
EXCEPTIONS = {
    # settings validates PRISM_WEBHOOK_ALLOWED_NETWORKS with the parser that webhook delivery uses (stdlib only)
    ("backend.settings", "backend.monitoring.webhook_targets"),
    # the package's install(app) hook, which only the app calls, loads the HTTP middleware
    ("backend.observability", "backend.observability.http"),
}
HTTP_LIBRARIES = ("flask", "werkzeug", "apiflask", "marshmallow")
#: libraries only the trainer uses (plots, augmentation statistics, progress bars, report tables)
TRAINING_ONLY_LIBRARIES = ("matplotlib", "tqdm", "rich")
SERVER_ENTRY_POINTS = ("backend.app", "backend.wsgi", "workers.celery_app")


def _module_name(path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict:
    return {_module_name(p): p for top in ("backend", "workers") for p in (REPO_ROOT / top).rglob("*.py")}


@cache
def _imports(module: str, top_level_only: bool = False) -> frozenset[str]:
    """What ``module`` imports: every module named, ours resolved to the module (``from pkg import mod``
    names pkg.mod, ``from mod import name`` names mod)."""
    tree = ast.parse(_modules()[module].read_text(), filename=str(_modules()[module]))
    nodes = tree.body if top_level_only else ast.walk(tree)
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{a.name}" for a in node.names} & _modules().keys()
            names.update(submodules or {node.module})
    return frozenset(names)


def _layer(module: str) -> str:
    if any(part == "cli" or part.startswith("cli_") for part in module.split(".")[1:]):   # cli.py, cli_db.py ...
        return "entry"
    prefixes = [p for p in LAYER_OF if module == p or module.startswith(p + ".")]
    return LAYER_OF[max(prefixes, key=len)]


def _ours(module: str) -> bool:
    return module.split(".")[0] in ("backend", "workers")


def test_every_backend_module_has_a_layer():
    assert [m for m in _modules() if m.startswith("backend") and _layer(m) not in LAYERS] == []


def test_backend_never_imports_workers():
    offenders = {m: sorted(n for n in _imports(m) if n.split(".")[0] == "workers")
                 for m in _modules() if m.startswith("backend")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for module in _modules():
        if not module.startswith("backend"):
            continue
        for name in _imports(module):
            if (name.startswith("backend") and (module, name) not in EXCEPTIONS
                    and LAYERS.index(_layer(name)) > LAYERS.index(_layer(module))):
                upward.append(f"{module} ({_layer(module)}) imports {name} ({_layer(name)})")
    assert upward == []


def test_the_search_core_holds_no_http():
    """The search core raises its own errors (backend/search/errors.py); backend/api turns them into
    problem+json. Only its command lines (entry layer) may reach further."""
    offenders = {}
    for module in _modules():
        if module.startswith("backend.search") and _layer(module) == "services":
            bad = sorted(n for n in _imports(module)
                         if n.split(".")[0] in HTTP_LIBRARIES or n in ("backend.errors", "backend.app")
                         or n.startswith("backend.api"))
            if bad:
                offenders[module] = bad
    assert offenders == {}


def _reachable(starts) -> set[str]:
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        module = todo.pop()
        if module in seen or module not in _modules():
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:k]) for k in range(1, len(parts))]   # importing a.b.c runs a and a.b
        todo += [n for n in _imports(module) if _ours(n)]
    return seen


def test_the_server_never_imports_the_trainer():
    """The API and the workers load the runtime encoder, never the training code (by any import path,
    those inside functions included)."""
    server = _reachable([*SERVER_ENTRY_POINTS, *(m for m in _modules() if m.startswith("workers"))])
    assert "backend.model.encoder" in server
    assert sorted(m for m in server if m == "backend.training" or m.startswith("backend.training.")) == []


def test_the_runtime_encoder_package_holds_no_training_code():
    """backend/model is what a server loads: none of its modules imports the trainer or its libraries."""
    offenders = {m: sorted(n for n in _imports(m) if n.split(".")[0] in TRAINING_ONLY_LIBRARIES
                           or n == "backend.training" or n.startswith("backend.training."))
                 for m in _modules() if m == "backend.model" or m.startswith("backend.model.")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_import_cycles_between_modules():
    """Module-level imports form no cycle (a package importing its own submodules aside: that is how
    a package exposes them)."""
    graph = {m: {n for n in _imports(m, top_level_only=True) if n in _modules() and not m.startswith(n + ".")}
             for m in _modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []
    for root in graph:                        # Tarjan's strongly connected components, without recursion
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    assert cycles == []


def test_runner_and_dispatch_do_not_import_each_other():
    assert "backend.monitoring.runner" not in _imports("backend.monitoring.dispatch")


def test_the_worker_app_routes_what_the_port_sends():
    from backend import task_queue
    from workers.celery_app import app

    app.loader.import_default_modules()
    for name in (task_queue.INGEST_PROCESS, task_queue.JOBS_RECONCILE, task_queue.WATCHES_CHECK_NEW,
                 task_queue.WEBHOOKS_DELIVER):
        assert name in app.tasks, name
    assert task_queue.queue_for(task_queue.INGEST_PROCESS) == "ingest"
    assert task_queue.queue_for(task_queue.WATCHES_CHECK_NEW) == "watches"
    assert task_queue.queue_for(task_queue.WEBHOOKS_DELIVER) == "default"
    assert task_queue.queue_for(task_queue.JOBS_RECONCILE) == "default"
    beat = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert task_queue.JOBS_RECONCILE in beat


#: which search sub-package may not import which: ``pipeline`` (the hybrid search and the retrieval protocol
#: it is composed with) and ``ranking`` know no backend; the backends implement the protocols and may import
#: both, never each other; text analysis and the query language know no pipeline stage, ranking or backend
#: (the query language builds the pipeline's filter clauses); ``index`` (documents, the ES index admin, the
#: re-embedding driver over a backend) knows no pipeline stage or ranking
SEARCH_PACKAGES = ("pipeline", "ranking", "backends", "index", "text", "query_language")
SEARCH_MAY_NOT_IMPORT = {
    "pipeline": ("backends",),
    "ranking": ("backends",),
    "index": ("pipeline.hybrid_search", "ranking"),
    "text": ("pipeline", "ranking", "backends", "query_language"),
    "query_language": ("pipeline.hybrid_search", "ranking", "backends"),
    "backends.embedded": ("backends.elasticsearch",),
    "backends.elasticsearch": ("backends.embedded",),
}


def _search_part(module: str) -> str | None:
    """``backend.search.backends.embedded.store`` -> ``backends.embedded``, ``...pipeline.paging`` ->
    ``pipeline.paging`` (a rule on ``pipeline`` covers both), None outside the sub-packages."""
    parts = module.split(".")[2:]
    if not parts or parts[0] not in SEARCH_PACKAGES:
        return None
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def test_search_sub_packages_import_only_downwards():
    """The pipeline is composed with a backend, never built on one: nothing in ``pipeline`` or ``ranking``
    imports a backend (they see it through ``pipeline.protocols``), and the two backends share nothing but
    the pipeline."""
    offenders = []
    for module in _modules():
        importer = _search_part(module) if module.startswith("backend.search.") else None
        if importer is None:
            continue
        banned = next((rule for part, rule in SEARCH_MAY_NOT_IMPORT.items()
                       if importer == part or importer.startswith(part + ".")), ())
        for name in _imports(module):
            imported = _search_part(name) if name.startswith("backend.search.") else None
            if imported is not None and any(imported == b or imported.startswith(b + ".") for b in banned):
                offenders.append(f"{module} ({importer}) imports {name} ({imported})")
    assert offenders == []


def test_the_search_rules_see_every_search_package():
    """A new sub-package of backend/search gets a rule (or is listed as having none) before it grows."""
    packages = {p.name for p in (REPO_ROOT / "backend" / "search").iterdir() if (p / "__init__.py").exists()}
    assert packages == set(SEARCH_PACKAGES)
    backends = {p.name for p in (REPO_ROOT / "backend" / "search" / "backends").iterdir() if (p / "__init__.py").exists()}
    assert {f"backends.{b}" for b in backends} <= SEARCH_MAY_NOT_IMPORT.keys()
    assert {p.split(".")[0] for p in SEARCH_MAY_NOT_IMPORT} <= set(SEARCH_PACKAGES)


def test_no_search_module_imports_http():
    """Nothing in backend/search - its command lines included - imports backend/api, the app or an HTTP library."""
    offenders = {m: sorted(n for n in _imports(m) if n.split(".")[0] in HTTP_LIBRARIES
                           or n.startswith("backend.api") or n in ("backend.app", "backend.wsgi"))
                 for m in _modules() if m.startswith("backend.search")}
    assert {k: v for k, v in offenders.items() if v} == {}
