// Part queries: drag a rectangle on the query drawing (an upload or a "more like this" figure) to search
// with that part alone. The box is sent as the request's `crop`, in fractions of the drawing's width and
// height (POST /search validates it: inside the drawing, at least 16 pixels a side).

const MIN_FRACTION = 0.02;   // a click, or a box too thin to mean anything, clears the part

/** The crop of a box dragged from (x0, y0) to (x1, y1), in pixels of an image shown `width` x `height`. */
export function cropOf(x0, y0, x1, y1, width, height) {
  const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
  const left = clamp(Math.min(x0, x1), width);
  const top = clamp(Math.min(y0, y1), height);
  const right = clamp(Math.max(x0, x1), width);
  const bottom = clamp(Math.max(y0, y1), height);
  if (!width || !height) return null;
  const crop = { x: left / width, y: top / height, width: (right - left) / width, height: (bottom - top) / height };
  if (crop.width < MIN_FRACTION || crop.height < MIN_FRACTION) return null;
  for (const k of Object.keys(crop)) crop[k] = Math.round(crop[k] * 10000) / 10000;
  return crop;
}

/** Where the drawing itself shows inside `img` (object-fit: contain leaves bands beside it). */
function shownRect(img) {
  const r = img.getBoundingClientRect();
  const nw = img.naturalWidth;
  const nh = img.naturalHeight;
  if (!nw || !nh || !r.width || !r.height) return r;
  const scale = Math.min(r.width / nw, r.height / nh);
  const width = nw * scale;
  const height = nh * scale;
  return { left: r.left + (r.width - width) / 2, top: r.top + (r.height - height) / 2, width, height };
}

/**
 * Let the user draw a box on `img`; `onChange(crop | null)` after each box (null: cleared). Returns
 * {clear()} to forget the box (a new drawing was chosen).
 */
export function attachPartBox(img, onChange) {
  const frame = document.createElement("span");
  frame.className = "part-frame";
  img.replaceWith(frame);
  frame.append(img);
  const box = document.createElement("span");
  box.className = "part-box";
  box.hidden = true;
  frame.append(box);
  const hint = document.createElement("button");
  hint.type = "button";
  hint.className = "btn btn-small btn-ghost part-clear";
  hint.textContent = "Whole drawing";
  hint.title = "Search with the whole drawing again (drag on the drawing to search a part of it)";
  hint.hidden = true;
  frame.after(hint);
  img.title = "Drag on the drawing to search with a part of it";
  img.draggable = false;
  let start = null;

  // the "Whole drawing" button shows once a box is set (not while dragging: it would move the drawing)
  function show(crop, dragging = false) {
    if (!dragging) hint.hidden = !crop;
    box.hidden = !crop;
    if (crop) {
      const r = shownRect(img);
      const f = frame.getBoundingClientRect();
      box.style.left = `${r.left - f.left + crop.x * r.width}px`;
      box.style.top = `${r.top - f.top + crop.y * r.height}px`;
      box.style.width = `${crop.width * r.width}px`;
      box.style.height = `${crop.height * r.height}px`;
    }
  }
  function clear() { start = null; show(null); }

  img.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    const r = shownRect(img);
    start = { x: e.clientX - r.left, y: e.clientY - r.top };
    img.setPointerCapture?.(e.pointerId);
  });
  img.addEventListener("pointermove", (e) => {
    if (!start) return;
    const r = shownRect(img);
    show(cropOf(start.x, start.y, e.clientX - r.left, e.clientY - r.top, r.width, r.height), true);
  });
  img.addEventListener("pointerup", (e) => {
    if (!start) return;
    const r = shownRect(img);
    const crop = cropOf(start.x, start.y, e.clientX - r.left, e.clientY - r.top, r.width, r.height);
    start = null;
    show(crop);
    onChange(crop);
  });
  hint.addEventListener("click", () => { clear(); onChange(null); });
  /** Show a box set elsewhere (a part chosen in the compare view), once the drawing is on screen. */
  function set(crop) {
    if (img.complete && img.naturalWidth) show(crop);
    else img.addEventListener("load", () => show(crop), { once: true });
    if (crop) hint.hidden = false;
  }
  return { clear, set };
}
