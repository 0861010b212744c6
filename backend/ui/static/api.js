// The Prism HTTP API as the page uses it (see docs/contracts.md). Every error becomes an ApiError
// whose message is the problem+json `detail` the server sent, so the page can show it as is.

const KEY_STORAGE = "prism.apiKey";

export class ApiError extends Error {
  constructor(status, detail, title = "", body = null) {
    super(detail);
    this.status = status;
    this.title = title;
    this.body = body;
  }
}

export function getApiKey() {
  try { return localStorage.getItem(KEY_STORAGE) || ""; } catch { return ""; }
}

export function setApiKey(key) {
  const clean = (key || "").trim();
  if (clean) localStorage.setItem(KEY_STORAGE, clean); else localStorage.removeItem(KEY_STORAGE);
}

function authHeaders(accept) {
  const headers = new Headers({ Accept: accept });
  const key = getApiKey();
  if (key) headers.set("Authorization", `Bearer ${key}`);
  return headers;
}

async function errorFrom(response) {
  let body = null;
  let detail = "";
  let title = response.statusText || "";
  const type = response.headers.get("Content-Type") || "";
  try {
    if (type.includes("json")) {
      body = await response.json();
      detail = body.detail || body.message || "";
      title = body.title || title;
      if (!detail && body.errors) detail = JSON.stringify(body.errors);
    } else {
      detail = (await response.text()).replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim().slice(0, 300);
    }
  } catch { /* body unreadable: fall back to the status line */ }
  if (!detail) detail = `${response.status} ${title}`.trim();
  return new ApiError(response.status, detail, title, body);
}

/** fetch with the API key; resolves to the Response when it is 2xx, otherwise throws ApiError. */
export async function call(method, url, { json, form, accept = "application/json", signal } = {}) {
  const headers = authHeaders(`${accept}, application/problem+json`);
  let body;
  if (json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // the browser sets the multipart boundary
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body, signal, credentials: "same-origin" });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, `Could not reach the Prism server (${err.message}). Check that it is running.`);
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

async function callJson(method, url, options) {
  const response = await call(method, url, options);
  if (response.status === 204) return null;
  return response.json();
}

/** A search body plus an optional uploaded drawing → JSON or multipart (fields "request" + "image"). */
function searchOptions(body, imageFile, accept) {
  if (!imageFile) return { json: body, accept };
  const form = new FormData();
  form.append("request", JSON.stringify(body));
  // several files: the views of one design, fused per patent (a multi-view query)
  for (const file of Array.isArray(imageFile) ? imageFile : [imageFile]) {
    form.append("image", file, file.name || "drawing.png");
  }
  return { form, accept };
}

export function search(body, imageFile, signal) {
  return callJson("POST", "/search", { ...searchOptions(body, imageFile, "application/json"), signal });
}

/** POST /search/export → {blob, filename}. */
export async function exportCsv(body, imageFile) {
  const response = await call("POST", "/search/export", searchOptions(body, imageFile, "text/csv"));
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const filename = match ? decodeURIComponent(match[1]) : "prism-results.csv";
  return { blob: await response.blob(), filename };
}

export function patent(publicationNumber) {
  return callJson("GET", `/patents/${encodeURIComponent(publicationNumber)}`);
}

export function figure(figureId) {
  return callJson("GET", `/figures/${encodeURIComponent(figureId)}`);
}

export function suggest(q, scheme, signal) {
  const params = new URLSearchParams({ q, scheme });
  return callJson("GET", `/classifications/suggest?${params}`, { signal });
}

export function createWatch(payload) {
  return callJson("POST", "/watches", { json: payload });
}

export function listWatches() {
  return callJson("GET", "/watches?limit=200");
}

export function getWatch(id) {
  return callJson("GET", `/watches/${encodeURIComponent(id)}`);
}

export function updateWatch(id, changes) {
  return callJson("PATCH", `/watches/${encodeURIComponent(id)}`, { json: changes });
}

/** Run a watch now: its summary ({status, examined, alerts}) or {status: "queued"}. */
export function runWatch(id) {
  return callJson("POST", `/watches/${encodeURIComponent(id)}/run`);
}

export function deleteWatch(id) {
  return callJson("DELETE", `/watches/${encodeURIComponent(id)}`);
}

export function listAlerts({ unread = false } = {}) {
  return callJson("GET", `/alerts?limit=200${unread ? "&unread=true" : ""}`);
}

export function markAlertRead(id) {
  return callJson("POST", `/alerts/${encodeURIComponent(id)}/read`);
}

/** The query vector of an uploaded drawing ({vector, dims, model}), so a watch can keep it. */
export function embedImage(imageFile) {
  const form = new FormData();
  form.append("image", imageFile, imageFile.name || "drawing");
  return callJson("POST", "/search/embed", { form });
}

// -- images ----------------------------------------------------------------------------------------
// With a key, figure images must be fetched with the Authorization header (an <img src> cannot send
// it), so they become blob: URLs; without one the plain URL is used.
const objectUrls = new Map(); // url -> Promise<blob: URL>, kept for the page's lifetime (figures repeat)

export function imageSource(url) {
  if (!url) return Promise.reject(new Error("no image"));
  // already in the page's memory (an uploaded drawing's preview): shown as is, never fetched (the page's
  // Content-Security-Policy lets <img> show blob: and data: URLs but lets fetch() reach this origin only)
  if (/^(blob|data):/.test(url)) return Promise.resolve(url);
  if (!getApiKey()) return Promise.resolve(url);
  if (!objectUrls.has(url)) {
    const pending = call("GET", url, { accept: "image/*" })
      .then((response) => { noteTurn(url, response); return response.blob(); })
      .then((blob) => URL.createObjectURL(blob));
    pending.catch(() => objectUrls.delete(url));
    objectUrls.set(url, pending);
  }
  return objectUrls.get(url);
}

// -- sideways sheets ------------------------------------------------------------------------------
// A figure's renditions come upright: the server turned a sheet printed sideways and says by how much
// (X-Prism-Rotation, degrees clockwise). The page remembers it per figure (localStorage), so that a stored
// thumbnail - as scanned - can be swapped for the upright rendition wherever that figure shows again.
const TURN_STORAGE = "prism.turn.";   // + figure id -> "90" | "180" | "270"
export const TURN_EVENT = "prism:turn";
const RENDITION_URL = /^\/figures\/(.+)\/rendition\?/;

function noteTurn(url, response) {
  const match = RENDITION_URL.exec(url);
  const header = response.headers.get("X-Prism-Rotation");
  if (!match || header === null) return;
  const figureId = decodeURIComponent(match[1]);
  const turn = [90, 180, 270].includes(Number(header)) ? Number(header) : 0;
  if (turn === knownTurn(figureId)) return;
  try {
    if (turn) localStorage.setItem(TURN_STORAGE + figureId, String(turn));
    else localStorage.removeItem(TURN_STORAGE + figureId);
  } catch { /* storage off: the turn is known for this request only */ }
  document.dispatchEvent(new CustomEvent(TURN_EVENT, { detail: { figureId, turn } }));
}

/** How many degrees clockwise the figure's renditions are turned from the stored drawing (0 when unknown). */
export function knownTurn(figureId) {
  try { return Number(localStorage.getItem(TURN_STORAGE + figureId)) || 0; } catch { return 0; }
}

/** Set an <img>'s source (through imageSource); on failure mark it broken with a readable text. */
export function loadImage(img, url) {
  img.dataset.state = "loading";
  img.dataset.source = url;   // the image asked for last wins (a sharper rendition may overtake a thumbnail)
  return imageSource(url).then(
    (src) => {
      if (img.dataset.source !== url) return;
      img.addEventListener("error", () => { img.dataset.state = "broken"; }, { once: true });
      img.addEventListener("load", () => { img.dataset.state = "loaded"; }, { once: true });
      img.src = src;
    },
    (err) => {
      if (img.dataset.source !== url) return;
      img.dataset.state = "broken";
      img.title = `Image unavailable: ${err.message}`;
    },
  );
}

/** Forget cached images (after the key changes). */
export function forgetImages() {
  for (const pending of objectUrls.values()) pending.then((u) => URL.revokeObjectURL(u), () => {});
  objectUrls.clear();
}
