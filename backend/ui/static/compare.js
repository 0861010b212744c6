// The compare view: the query drawing (the uploaded file, or the "more like this" figure) beside a hit, both at
// full height, zoom/pan synchronised or not, each pane rotated or flipped on its own; an overlay mode (query in
// red, hit in blue, shared lines dark) and a blink mode for near-identical drawings. ← → (or j k) step through
// the hits on screen; the query stays. "Search a part" (p): drag a box on the hit's drawing to search with
// that part of it (image_figure_id + crop, the box mapped back onto the drawing as stored).

import { knownTurn } from "./api.js";
import { h } from "./dom.js";
import { figureLabel, patentHref, thumbnailUrl } from "./format.js";
import { visibleFigures } from "./hits.js";
import { Viewer } from "./viewer.js";

const BLINK_MS = 700;
let query = null;        // {kind: "upload", url, name} | {kind: "figure", hit} | null
let ui = null;           // the dialog's parts, built on first use
let hits = [];
let index = 0;
let blinkTimer = null;
let onCloseHit = null;
let onPart = null;       // (hit, crop) -> a part search with the hit's figure

/** The drawing searched with; the compare view shows it on the left. */
export function setQuery(value) {
  query = value;
}

export function getQuery() {
  return query;
}

const svg = (tag, attrs, ...children) => {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
};

/** Colour filters for the overlay (ink → red / blue, white stays white), referenced from prism.css. */
function tintFilters() {
  const tint = (id, values) => svg("filter", { id, "color-interpolation-filters": "sRGB" },
    svg("feColorMatrix", { type: "matrix", values }));
  return svg("svg", { class: "visually-hidden", "aria-hidden": "true", width: "0", height: "0" },
    tint("prism-tint-query", "0.15 0 0 0 0.85  0 0.9 0 0 0.1  0 0.9 0 0 0.1  0 0 0 1 0"),
    tint("prism-tint-hit", "0.9 0 0 0 0.1  0 0.6 0 0 0.4  0 0 0.15 0 0.85  0 0 0 1 0"));
}

function build() {
  const queryPane = h("div", { class: "compare-pane compare-query", id: "compare-query" });
  const hitPane = h("div", { class: "compare-pane compare-hit", id: "compare-hit" });
  const modeSelect = h("select", { id: "compare-mode", "aria-label": "Compare mode" },
    h("option", { value: "side" }, "Side by side"), h("option", { value: "overlay" }, "Overlay"),
    h("option", { value: "blink" }, "Blink"));
  const sync = h("input", { type: "checkbox", id: "compare-sync", checked: true });
  const opacity = h("input", { type: "range", id: "compare-opacity", min: "0", max: "1", step: "0.05", value: "0.5",
                               "aria-label": "Hit opacity in the overlay" });
  const dialog = h("dialog", { id: "compare-dialog", class: "compare-dialog", "aria-labelledby": "compare-title" },
    h("div", { class: "compare-head" },
      h("h2", { id: "compare-title" }, "Compare"),
      h("span", { id: "compare-position", class: "compare-position", "aria-live": "polite" }),
      h("button", { type: "button", class: "btn btn-small", id: "compare-prev", title: "Previous hit (← or k)" }, "← Previous"),
      h("button", { type: "button", class: "btn btn-small", id: "compare-next", title: "Next hit (→ or j)" }, "Next →"),
      h("label", { class: "check compare-check" }, sync, " Synchronise zoom"),
      modeSelect,
      h("label", { class: "compare-opacity", id: "compare-opacity-label" }, "Hit ", opacity),
      h("button", { type: "button", class: "btn btn-small", id: "compare-part", "aria-pressed": "false",
                    title: "Drag a box on the hit's drawing to search with that part of it (p)" }, "✂ Search a part"),
      h("button", { type: "button", class: "btn btn-small", id: "compare-close" }, "Close")),
    h("div", { class: "compare-captions" },
      h("p", { id: "compare-query-caption", class: "compare-caption" }),
      h("p", { id: "compare-hit-caption", class: "compare-caption" })),
    h("div", { class: "compare-panes mode-side", id: "compare-panes" }, queryPane, hitPane),
    h("p", { class: "hint compare-keys" },
      "← → or j k: other hit · + − 0: zoom · drag: pan · r: rotate hit · f: flip hit · o: overlay · b: blink · "
      + "p: search a part of the hit · Esc: close"));
  document.body.append(dialog, tintFilters());
  // synchronised panes, or stacked ones (overlay, blink), share one zoom and pan
  const together = () => ui.sync.checked || dialog.dataset.mode !== "side";
  const follow = (source) => {
    if (together()) (source === ui.queryViewer ? ui.hitViewer : ui.queryViewer).follow(source);
  };
  const queryViewer = new Viewer(queryPane, { label: "Query drawing", onChange: follow });
  const hitViewer = new Viewer(hitPane, { label: "Hit drawing", onChange: follow });
  ui = { dialog, queryViewer, hitViewer, modeSelect, sync, opacity, panes: dialog.querySelector("#compare-panes") };
  dialog.dataset.mode = "side";
  dialog.querySelector("#compare-prev").addEventListener("click", () => step(-1));
  dialog.querySelector("#compare-next").addEventListener("click", () => step(1));
  dialog.querySelector("#compare-close").addEventListener("click", () => dialog.close());
  dialog.querySelector("#compare-part").addEventListener("click", () => setPartMode(dialog.dataset.part !== "on"));
  initPartLayer(hitPane);
  modeSelect.addEventListener("change", () => setMode(modeSelect.value));
  sync.addEventListener("change", () => { if (sync.checked) hitViewer.follow(queryViewer); });
  opacity.addEventListener("input", () => ui.panes.style.setProperty("--overlay-opacity", opacity.value));
  ui.panes.style.setProperty("--overlay-opacity", opacity.value);
  // on the document: a focused control that a mode hides leaves the focus on <body>, outside the dialog
  document.addEventListener("keydown", (e) => { if (dialog.open) onKey(e); });
  dialog.addEventListener("close", () => {
    stopBlink();
    const hit = hits[index];
    if (onCloseHit && hit) onCloseHit(hit);
  });
}

// ---- search a part of the hit ---------------------------------------------------------------------
/** Part mode on or off: on, a drag on the hit pane draws a box instead of panning (side by side only). */
function setPartMode(on) {
  if (on && ui.dialog.dataset.mode !== "side") setMode("side");
  ui.dialog.dataset.part = on ? "on" : "off";
  ui.dialog.querySelector("#compare-part").setAttribute("aria-pressed", String(on));
  ui.partLayer.hidden = !on;
  ui.partBox.hidden = true;
}

/** A point on the screen as shares (0..1) of the drawing as stored: undoes the pane's zoom, pan, rotation and
 *  flip (viewer.js applies scale, rotate, then scaleX about the image's centre) and the server's turn upright. */
export function storedPoint(viewer, turn, clientX, clientY) {
  const img = viewer.img;
  const r = img.getBoundingClientRect();
  let x = (clientX - (r.left + r.width / 2)) / viewer.zoom;
  let y = (clientY - (r.top + r.height / 2)) / viewer.zoom;
  const a = (-viewer.rotation * Math.PI) / 180;
  [x, y] = [x * Math.cos(a) - y * Math.sin(a), x * Math.sin(a) + y * Math.cos(a)];
  if (viewer.flip) x = -x;
  const u = x / (img.offsetWidth || 1) + 0.5;   // shares of the rendition on screen (upright)
  const v = y / (img.offsetHeight || 1) + 0.5;
  // the rendition is the stored drawing turned `turn` degrees clockwise
  if (turn === 90) return [v, 1 - u];
  if (turn === 180) return [1 - u, 1 - v];
  if (turn === 270) return [1 - v, u];
  return [u, v];
}

/** The crop (request `crop`: x, y, width, height as shares of the stored drawing) of a box between two points. */
export function cropBetween(a, b) {
  const clamp = (t) => Math.min(Math.max(t, 0), 1);
  const [x0, x1] = [clamp(Math.min(a[0], b[0])), clamp(Math.max(a[0], b[0]))];
  const [y0, y1] = [clamp(Math.min(a[1], b[1])), clamp(Math.max(a[1], b[1]))];
  if (x1 - x0 < 0.02 || y1 - y0 < 0.02) return null;   // a click, or a box too thin to mean anything
  const round = (t) => Math.round(t * 10000) / 10000;
  return { x: round(x0), y: round(y0), width: round(x1 - x0), height: round(y1 - y0) };
}

function initPartLayer(hitPane) {
  const layer = h("div", { class: "part-layer", id: "compare-part-layer", hidden: true,
                           title: "Drag a box around the part to search with" });
  const box = h("span", { class: "part-box", hidden: true });
  layer.append(box);
  hitPane.querySelector(".viewer-stage").append(layer);
  ui.partLayer = layer;
  ui.partBox = box;
  let start = null;
  const draw = (e) => {
    const r = layer.getBoundingClientRect();
    const [x0, x1] = [Math.min(start.x, e.clientX), Math.max(start.x, e.clientX)];
    const [y0, y1] = [Math.min(start.y, e.clientY), Math.max(start.y, e.clientY)];
    Object.assign(box.style, { left: `${x0 - r.left}px`, top: `${y0 - r.top}px`,
                               width: `${x1 - x0}px`, height: `${y1 - y0}px` });
    box.hidden = false;
  };
  layer.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    e.stopPropagation();
    start = { x: e.clientX, y: e.clientY };
    layer.setPointerCapture?.(e.pointerId);
  });
  layer.addEventListener("pointermove", (e) => { if (start) { e.stopPropagation(); draw(e); } });
  layer.addEventListener("pointerup", (e) => {
    if (!start) return;
    e.stopPropagation();
    const hit = hits[index];
    const turn = knownTurn(hit.figure_id);
    const crop = cropBetween(storedPoint(ui.hitViewer, turn, start.x, start.y),
                             storedPoint(ui.hitViewer, turn, e.clientX, e.clientY));
    start = null;
    if (!crop) { box.hidden = true; return; }
    ui.dialog.dataset.crop = JSON.stringify(crop);
    if (onPart) {
      const search = onPart;
      ui.dialog.close();
      search(hit, crop);
    }
  });
}

function setMode(mode) {
  stopBlink();
  ui.dialog.dataset.mode = mode;
  ui.modeSelect.value = mode;
  ui.panes.className = `compare-panes mode-${mode}`;
  ui.dialog.querySelector("#compare-opacity-label").hidden = mode !== "overlay";
  if (mode !== "side") ui.hitViewer.follow(ui.queryViewer);   // stacked panes share one zoom and pan
  if (mode === "blink") {
    ui.panes.dataset.showing = "hit";
    blinkTimer = setInterval(() => {
      ui.panes.dataset.showing = ui.panes.dataset.showing === "hit" ? "query" : "hit";
    }, BLINK_MS);
  }
}

function stopBlink() {
  if (blinkTimer) clearInterval(blinkTimer);
  blinkTimer = null;
  if (ui) delete ui.panes.dataset.showing;
}

function describe(hit) {
  return `${hit.publication_number || ""} ${figureLabel(hit)}`.trim();
}

function showQuery() {
  const caption = ui.dialog.querySelector("#compare-query-caption");
  if (query?.kind === "upload") {
    ui.queryViewer.show({ url: query.url, alt: `Query drawing ${query.name || ""}`.trim() });
    caption.textContent = `Query: ${query.name || "uploaded drawing"}`;
  } else if (query?.kind === "figure") {
    ui.queryViewer.show({ figureId: query.hit.figure_id, alt: `Query ${describe(query.hit)}`,
                          placeholder: thumbnailUrl(query.hit) });
    caption.textContent = `Query: more like ${describe(query.hit)}`;
  } else {
    ui.queryViewer.show({});
    caption.textContent = "No query drawing: upload one or use “More like this” to compare against it.";
  }
  ui.dialog.dataset.query = query?.kind || "none";
}

function showHit() {
  const hit = hits[index];
  if (ui.dialog.dataset.part === "on") ui.partBox.hidden = true;
  const caption = ui.dialog.querySelector("#compare-hit-caption");
  ui.hitViewer.show({ figureId: hit.figure_id, alt: `Hit ${describe(hit)}`, placeholder: thumbnailUrl(hit) });
  if (ui.sync.checked || ui.dialog.dataset.mode !== "side") ui.hitViewer.follow(ui.queryViewer);
  caption.replaceChildren(`Hit ${index + 1}: `,
    h("a", { href: patentHref(hit.publication_number), target: "_blank", rel: "noopener" }, describe(hit)),
    hit.title ? ` — ${hit.title}` : "");
  ui.dialog.querySelector("#compare-position").textContent = `${index + 1} of ${hits.length}`;
  ui.dialog.querySelector("#compare-prev").disabled = index === 0;
  ui.dialog.querySelector("#compare-next").disabled = index === hits.length - 1;
  ui.dialog.dataset.figureId = hit.figure_id;
}

function step(delta) {
  const next = index + delta;
  if (next < 0 || next >= hits.length) return;
  index = next;
  showHit();
}

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.tagName === "SELECT" || e.target.type === "range") return;   // their own arrow keys
  let handled = true;
  if (e.key === "ArrowRight" || e.key === "j") step(1);
  else if (e.key === "ArrowLeft" || e.key === "k") step(-1);
  else if (e.key === "o") setMode(ui.dialog.dataset.mode === "overlay" ? "side" : "overlay");
  else if (e.key === "b") setMode(ui.dialog.dataset.mode === "blink" ? "side" : "blink");
  else if (e.key === "p") setPartMode(ui.dialog.dataset.part !== "on");
  else if (e.key === "s") { ui.sync.checked = !ui.sync.checked; ui.sync.dispatchEvent(new Event("change")); }
  else handled = ui.hitViewer.key(e);   // + - 0 zoom (the query follows when synchronised), r f the hit's own
  if (handled) e.preventDefault();
}

/**
 * Open the compare view on `hit`, stepping through `list` (default: the figures on screen).
 * `onClose(hit)` is told which hit was on screen when the view closes; `onPartSearch(hit, crop)` (when given)
 * runs the part search a box drawn on the hit asks for.
 */
export function openCompare(hit, { list = null, onClose = null, onPartSearch = null } = {}) {
  if (!ui) build();
  onPart = onPartSearch;
  ui.dialog.querySelector("#compare-part").hidden = !onPartSearch;
  delete ui.dialog.dataset.crop;
  hits = (list || visibleFigures()).filter((f) => f.has_image !== false);
  index = Math.max(0, hits.findIndex((f) => f.figure_id === hit.figure_id));
  if (!hits.length || hits[index].figure_id !== hit.figure_id) { hits.splice(index, 0, hit); }
  onCloseHit = onClose;
  setMode("side");
  setPartMode(false);
  if (!ui.dialog.open) ui.dialog.showModal();
  showQuery();
  showHit();
  ui.dialog.querySelector("#compare-next").focus();
}
