// The zoom dialog: one figure in the viewer (zoom, pan, rotate, flip, the original), ← → to the previous or
// next figure of the view it was opened from (the results, or the patent's figures).

import { figureLabel, thumbnailUrl } from "./format.js";
import { visibleFigures } from "./hits.js";
import { Viewer } from "./viewer.js";

const $ = (id) => document.getElementById(id);
let viewer = null;
let figures = [];
let index = 0;
let compareWith = null;

function show() {
  const hit = figures[index];
  const title = `${hit.publication_number || ""} ${figureLabel(hit)}`.trim();
  $("figure-dialog-title").textContent = title;
  $("figure-dialog-desc").textContent = hit.description || "";
  $("figure-dialog-position").textContent = figures.length > 1 ? `${index + 1} of ${figures.length}` : "";
  $("figure-prev").disabled = index === 0;
  $("figure-next").disabled = index >= figures.length - 1;
  $("figure-dialog").dataset.figureId = hit.figure_id;
  viewer.show({ figureId: hit.figure_id, alt: title, placeholder: thumbnailUrl(hit) });
}

function step(delta) {
  const next = index + delta;
  if (next < 0 || next >= figures.length) return;
  index = next;
  show();
}

function init() {
  viewer = new Viewer($("figure-viewer"), { label: "Figure", imgId: "figure-dialog-img" });
  $("figure-prev").addEventListener("click", () => step(-1));
  $("figure-next").addEventListener("click", () => step(1));
  $("figure-close").addEventListener("click", () => $("figure-dialog").close());
  $("figure-compare").addEventListener("click", () => {
    const hit = figures[index];
    $("figure-dialog").close();
    compareWith?.(hit);
  });
  document.addEventListener("keydown", (e) => {
    if (!$("figure-dialog").open || e.defaultPrevented) return;
    if (e.ctrlKey || e.metaKey || e.altKey || e.target.tagName === "SELECT") return;
    let handled = true;
    if (e.key === "ArrowRight") step(1);
    else if (e.key === "ArrowLeft") step(-1);
    else handled = viewer.key(e);
    if (handled) e.preventDefault();
  });
}

/** Open `hit` in the zoom dialog; ← → step through `list` (default: the figures of the view on screen). */
export function openZoom(hit, { list = null, onCompare = null } = {}) {
  if (!viewer) init();
  compareWith = onCompare;
  figures = (list || visibleFigures()).filter((f) => f.has_image !== false);
  index = figures.findIndex((f) => f.figure_id === hit.figure_id);
  if (index < 0) { figures = [hit]; index = 0; }
  $("figure-compare").hidden = !onCompare;
  if (!$("figure-dialog").open) $("figure-dialog").showModal();
  show();
  $("figure-viewer").querySelector(".viewer-stage").focus();
}
