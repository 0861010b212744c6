// A drawing viewer: zoom (wheel, buttons, keys), pan (drag), rotate 90°, flip, fit; asks the server for the
// rendition the current zoom needs (400/800/1600/full px, never more than the original) and remembers the
// rotation of each figure (localStorage), so a sideways sheet stays upright the next time.

import { imageSource } from "./api.js";
import { h } from "./dom.js";

export const SIZES = [400, 800, 1600, "full"];
const MIN_ZOOM = 0.25;
const MAX_ZOOM = 40;
const VIEW_STORAGE = "prism.view.";   // + figure id -> {"rotation": 0|90|180|270, "flip": bool}

export function renditionUrl(figureId, size) {
  return `/figures/${encodeURIComponent(figureId)}/rendition?w=${size}`;
}

export function savedView(figureId) {
  if (!figureId) return { rotation: 0, flip: false };
  try {
    const saved = JSON.parse(localStorage.getItem(VIEW_STORAGE + figureId) || "{}");
    return { rotation: [0, 90, 180, 270].includes(saved.rotation) ? saved.rotation : 0, flip: saved.flip === true };
  } catch { return { rotation: 0, flip: false }; }
}

function saveView(figureId, rotation, flip) {
  if (!figureId) return;
  try {
    if (!rotation && !flip) localStorage.removeItem(VIEW_STORAGE + figureId);
    else localStorage.setItem(VIEW_STORAGE + figureId, JSON.stringify({ rotation, flip }));
  } catch { /* storage full or off: the view is simply not remembered */ }
}

/** The smallest rendition whose longer side covers `pixels` device pixels. */
export function sizeFor(pixels) {
  return SIZES.find((s) => s !== "full" && s >= pixels) || "full";
}

export class Viewer {
  /**
   * @param {HTMLElement} root   an empty element; the viewer fills it
   * @param {object} options     label (for buttons), imgId (id of the <img>), onChange(viewer) after a
   *                             user zoom/pan (for synchronised viewers)
   */
  constructor(root, { label = "drawing", imgId = null, onChange = null } = {}) {
    this.root = root;
    this.label = label;
    this.onChange = onChange;
    this.zoom = 1; this.tx = 0; this.ty = 0; this.rotation = 0; this.flip = false;
    this.aspect = 1;          // width / height of the drawing as filed
    this.figureId = null;
    this.source = null;       // size -> URL, or a fixed URL
    this.size = null;         // the rendition on screen (400, 800, 1600, "full") or "fixed"
    this.complete = false;    // the rendition on screen is the original's full resolution
    this.token = 0;
    this.img = h("img", { class: "viewer-img", alt: "", draggable: "false", id: imgId });
    this.stage = h("div", { class: "viewer-stage", tabindex: "0", "aria-label": `${label}: wheel or +/- to zoom, drag to pan` }, this.img);
    this.original = h("a", { class: "btn btn-small viewer-original", target: "_blank", rel: "noopener", hidden: true },
      "Original ↗");
    const button = (act, text, title) => h("button", { type: "button", class: "btn btn-small", dataset: { act },
                                                         title, "aria-label": `${title} (${label})` }, text);
    this.bar = h("div", { class: "viewer-bar", role: "toolbar", "aria-label": `${label} view` },
      button("zoom-in", "+", "Zoom in"), button("zoom-out", "−", "Zoom out"), button("fit", "Fit", "Fit to the pane"),
      button("rotate", "⟳ 90°", "Rotate 90° clockwise"), button("flip", "⇋ Flip", "Flip horizontally"), this.original);
    root.classList.add("viewer");
    root.replaceChildren(this.bar, this.stage);
    this.bar.addEventListener("click", (e) => {
      const act = e.target.closest("button[data-act]")?.dataset.act;
      if (act) this.act(act);
    });
    this.initPointer();
    this.resizer = new ResizeObserver(() => this.render());
    this.resizer.observe(this.stage);
  }

  /** Show a figure (sized renditions) or a fixed image URL (an uploaded drawing's preview). */
  show({ figureId = null, url = null, alt = "", originalUrl = null, remember = true, placeholder = null } = {}) {
    this.figureId = remember ? figureId : null;
    this.source = figureId ? (size) => renditionUrl(figureId, size) : () => url;
    ({ rotation: this.rotation, flip: this.flip } = savedView(this.figureId));
    this.zoom = 1; this.tx = 0; this.ty = 0;
    this.size = null;
    this.complete = !figureId;
    this.img.alt = alt;
    this.img.removeAttribute("src");
    this.img.dataset.state = "loading";
    this.root.dataset.figureId = figureId || "";
    const original = originalUrl || (figureId ? renditionUrl(figureId, "full") : url);
    this.original.hidden = !original;
    if (original) {
      this.original.href = original;
      this.original.dataset.source = original;   // with a key the link becomes a blob: URL of the same image
      imageSource(original).then((src) => { this.original.href = src; }, () => {});
    }
    this.render();
    if (!figureId && !url) {   // nothing to show (a text-only search has no query drawing): ask for nothing
      this.token += 1;
      this.img.dataset.state = "empty";
      return Promise.resolve();
    }
    const loading = this.load(figureId ? sizeFor(this.neededPixels()) : "fixed");
    if (placeholder) this.showPlaceholder(placeholder, this.token);
    return loading;
  }

  /** The thumbnail (usually cached already) while the rendition is on its way. */
  async showPlaceholder(url, token) {
    try {
      const src = await imageSource(url);
      const probe = new Image();
      probe.src = src;
      await probe.decode();
      if (token !== this.token || this.img.dataset.state !== "loading") return;
      this.aspect = probe.naturalWidth / probe.naturalHeight || 1;
      this.img.src = src;
      this.render();
    } catch { /* no thumbnail: the rendition will come */ }
  }

  /** Load a rendition (kept off screen until decoded, so a sharper one replaces the image without a blink). */
  async load(size) {
    const token = ++this.token;
    this.size = size;
    this.root.dataset.size = String(size);
    const wanted = this.source(size);
    try {
      const src = await imageSource(wanted);
      const probe = new Image();
      probe.src = src;
      await probe.decode();
      if (token !== this.token) return;
      const first = this.img.dataset.state !== "loaded";
      if (first) this.aspect = probe.naturalWidth / probe.naturalHeight || 1;
      this.complete = size === "full" || size === "fixed" || Math.max(probe.naturalWidth, probe.naturalHeight) < size;
      this.img.src = src;
      this.img.dataset.state = "loaded";
      this.root.dataset.naturalWidth = String(probe.naturalWidth);
      this.render();
    } catch (err) {
      if (token !== this.token) return;
      this.img.dataset.state = "broken";
      this.img.title = `Image unavailable: ${err.message || "it could not be read"}`;
    }
  }

  /** Device pixels the longer side of the drawing takes at the current zoom. */
  neededPixels() {
    const { width, height } = this.fitted();
    return Math.max(width, height) * this.zoom * (window.devicePixelRatio || 1);
  }

  /** The image element's own (unrotated) size that fits the stage once rotated. */
  fitted() {
    const sw = this.stage.clientWidth || 1;
    const sh = this.stage.clientHeight || 1;
    const turned = this.rotation % 180 !== 0;
    // the element is aspect*k wide and k high; turned, it covers k x aspect*k
    const k = turned ? Math.min(sw, sh / this.aspect) : Math.min(sw / this.aspect, sh);
    return { width: this.aspect * k, height: k };
  }

  render() {
    const { width, height } = this.fitted();
    const s = this.img.style;   // CSSOM: allowed by the page's Content-Security-Policy
    s.width = `${width}px`;
    s.height = `${height}px`;
    s.transform = `translate(-50%, -50%) translate(${this.tx}px, ${this.ty}px) scale(${this.zoom}) `
      + `rotate(${this.rotation}deg) scaleX(${this.flip ? -1 : 1})`;
    Object.assign(this.root.dataset, { zoom: this.zoom.toFixed(3), rotation: String(this.rotation),
                                       flip: String(this.flip), tx: this.tx.toFixed(1), ty: this.ty.toFixed(1) });
    if (this.size && this.size !== "fixed" && !this.complete && this.img.dataset.state === "loaded") {
      const size = sizeFor(this.neededPixels());
      if (SIZES.indexOf(size) > SIZES.indexOf(this.size)) this.load(size);
    }
  }

  /** Zoom by `factor` keeping the point (px, py) - relative to the stage centre - in place. */
  zoomAt(factor, px = 0, py = 0, notify = true) {
    const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.zoom * factor));
    const f = zoom / this.zoom;
    this.tx = px - (px - this.tx) * f;
    this.ty = py - (py - this.ty) * f;
    this.zoom = zoom;
    this.changed(notify);
  }

  panBy(dx, dy, notify = true) {
    this.tx += dx;
    this.ty += dy;
    this.changed(notify);
  }

  fit(notify = true) {
    this.zoom = 1; this.tx = 0; this.ty = 0;
    this.changed(notify);
  }

  rotate() {
    this.rotation = (this.rotation + 90) % 360;
    saveView(this.figureId, this.rotation, this.flip);
    this.render();
  }

  toggleFlip() {
    this.flip = !this.flip;
    saveView(this.figureId, this.rotation, this.flip);
    this.render();
  }

  /** Zoom and pan of another viewer (synchronised panes); rotation and flip stay each pane's own. */
  follow(other) {
    this.zoom = other.zoom; this.tx = other.tx; this.ty = other.ty;
    this.render();
  }

  changed(notify) {
    this.render();
    if (notify && this.onChange) this.onChange(this);
  }

  act(name) {
    if (name === "zoom-in") this.zoomAt(1.5);
    else if (name === "zoom-out") this.zoomAt(1 / 1.5);
    else if (name === "fit") this.fit();
    else if (name === "rotate") this.rotate();
    else if (name === "flip") this.toggleFlip();
  }

  initPointer() {
    const centre = (e) => {
      const r = this.stage.getBoundingClientRect();
      return [e.clientX - r.left - r.width / 2, e.clientY - r.top - r.height / 2];
    };
    this.stage.addEventListener("wheel", (e) => {
      e.preventDefault();
      const delta = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
      this.zoomAt(Math.exp(-delta * 0.0015), ...centre(e));
    }, { passive: false });
    let drag = null;
    this.stage.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, id: e.pointerId };
      this.stage.setPointerCapture(e.pointerId);
      this.stage.classList.add("dragging");
    });
    this.stage.addEventListener("pointermove", (e) => {
      if (!drag || e.pointerId !== drag.id) return;
      this.panBy(e.clientX - drag.x, e.clientY - drag.y);
      drag.x = e.clientX;
      drag.y = e.clientY;
    });
    const end = (e) => {
      if (!drag || e.pointerId !== drag.id) return;
      drag = null;
      this.stage.classList.remove("dragging");
    };
    this.stage.addEventListener("pointerup", end);
    this.stage.addEventListener("pointercancel", end);
    this.stage.addEventListener("dblclick", (e) => this.zoomAt(2, ...centre(e)));
  }

  /** Keys a viewer understands (when its dialog has them): + - 0 r f. Returns true when handled. */
  key(e) {
    if (e.key === "+" || e.key === "=") this.zoomAt(1.5);
    else if (e.key === "-" || e.key === "_") this.zoomAt(1 / 1.5);
    else if (e.key === "0") this.fit();
    else if (e.key === "r" || e.key === "R") this.rotate();
    else if (e.key === "f" || e.key === "F") this.toggleFlip();
    else return false;
    return true;
  }
}
