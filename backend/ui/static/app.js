// Prism examiner UI: wires the search form, the results grid, the patent view and the dialogs.
// No framework and no build step: ES modules served from /ui/static/.

import * as api from "./api.js";
import { Combobox } from "./autocomplete.js";
import { h, setMessage } from "./dom.js";
import { figureLabel, patentHref } from "./format.js";
import { renderAlerts, renderWatches } from "./monitor.js";
import { markMatched, renderPatent } from "./patent.js";
import { buildRequest, defaultWatchName, SCHEMES, validate, watchQuery } from "./query.js";
import { renderFacets, renderResults } from "./results.js";
import { decorateCards } from "./card_tools.js";
import { openCompare, setQuery } from "./compare.js";
import { remember } from "./hits.js";
import { initKeyboard } from "./keyboard.js";
import { initShortlist, numbers as shortlisted, toggle as toggleShortlist } from "./shortlist.js";
import { attachPartBox } from "./part_box.js";
import { forgetUpload, renderUpload } from "./upload_preview.js";
import { keepUpload, loadUpload } from "./upload_store.js";
import { fromSearchString, toSearchString } from "./url_state.js";
import { correctedQuery, errorPosition } from "./query_fix.js";
import { openZoom } from "./zoom.js";

const $ = (id) => document.getElementById(id);
const body = document.body;
const AUTH_REQUIRED = body.dataset.authRequired === "true";
const MAX_UPLOAD_MB = Number(body.dataset.maxUploadMb) || 20;
const IMAGE_TYPES = /^image\/(png|jpeg|gif|webp|bmp|tiff)$/;

// ---- state ---------------------------------------------------------------------------------------
const state = {
  text: "", imageFile: null, imageFigureId: null, classifications: [],
  uploadId: null, watchId: null, vector: null,   // the URL's names for the drawing; a watch's stored drawing
  dateType: "publication", dateFrom: "", dateTo: "", applicants: "", countries: "", kinds: "",
  weightText: 1, weightImage: 1, fusion: "rrf", groupByPatent: true, size: 20,
  excludePatents: [], excludeFamilies: [],
};
const matchedFigures = new Map();   // publication number -> figure ids of the results shown, best first
let last = null;          // the search on screen: {state, body, imageFile, nextCursor, shownGroups, shownHits, total}
let inFlight = null;      // AbortController of the running search
let pendingAfterKey = null;
let lastOpener = null;    // element to refocus when coming back from the patent view
let shownSearch = "";     // the URL query string ("?q=shoe") of the search on screen
let uploadKept = null;    // Promise of the id the uploaded drawing is kept under (upload_store.js)

function readForm() {
  state.text = $("q-text").value;
  state.dateType = $("date-type").value;
  state.dateFrom = $("date-from").value;
  state.dateTo = $("date-to").value;
  state.applicants = $("applicants").value;
  state.countries = $("countries").value;
  state.kinds = $("kinds").value;
  state.weightText = $("w-text").value;
  state.weightImage = $("w-image").value;
  state.fusion = $("fusion").value;
  state.groupByPatent = $("group-by-patent").checked;
  state.size = $("page-size").value;
}

const snapshot = () => ({ ...state, classifications: state.classifications.map((c) => ({ ...c })),
                          excludePatents: [...state.excludePatents], excludeFamilies: [...state.excludeFamilies] });

// ---- messages ------------------------------------------------------------------------------------
function showError(text, el = $("error")) { setMessage(el, text); }
function showNotice(text) { setMessage($("notice"), text); }
function setStatus(text) { $("status").textContent = text; }
// Elasticsearch answered from some shards only (a node down, a timeout): say so beside the results
function partialText(shards) {
  const parts = [];
  if (shards.failed) parts.push(`${shards.failed} of ${shards.total} shards did not answer`);
  if (shards.timed_out) parts.push("the search timed out");
  return `Partial results: ${parts.join(" and ") || "some shards did not answer"}; some matches may be missing.`;
}

function explainError(err) {
  if (err.status === 401 || err.status === 403) {
    const hint = api.getApiKey() ? " Check the API key." : " Enter an API key.";
    return `${err.message}.${hint}`.replace(/\.\./g, ".");
  }
  return err.message;
}

// ---- API key ---------------------------------------------------------------------------------------
function refreshKeyStatus() {
  const key = api.getApiKey();
  refreshAlertBadge();
  $("key-status").textContent = key ? `Key ${key.slice(0, 13)}…` : (AUTH_REQUIRED ? "No API key" : "");
  $("key-banner").hidden = !(AUTH_REQUIRED && !key);
}

function openKeyDialog(afterSave = null) {
  pendingAfterKey = afterSave;
  $("key-input").value = api.getApiKey();
  $("key-dialog").showModal();
  $("key-input").focus();
}

function initKeyDialog() {
  $("key-button").addEventListener("click", () => openKeyDialog());
  $("key-banner-button").addEventListener("click", () => openKeyDialog());
  $("key-cancel").addEventListener("click", () => $("key-dialog").close());
  $("key-forget").addEventListener("click", () => {
    api.setApiKey("");
    api.forgetImages();
    refreshKeyStatus();
    $("key-dialog").close();
  });
  $("key-form").addEventListener("submit", () => {
    api.setApiKey($("key-input").value);
    api.forgetImages();
    refreshKeyStatus();
    const next = pendingAfterKey;
    pendingAfterKey = null;
    if (next) next();
  });
}

function needsKey(retry) {
  if (AUTH_REQUIRED && !api.getApiKey()) {
    showError("This server requires an API key. Enter it to search.");
    openKeyDialog(retry);
    return true;
  }
  return false;
}

// ---- drawing: drop, paste, pick, "more like this" ---------------------------------------------------
let partBoxes = [];   // the part boxes on the uploaded drawing and on the "more like this" figure

function forgetPart() {
  state.crop = null;
  for (const part of partBoxes) part.clear();
}

/** Several files (drop or pick): the first is the query drawing, the others more views of the design. */
function setImageFiles(files) {
  const [first, ...more] = files;
  setImageFile(first);
  if (state.imageFile !== first) return;
  state.extraViews = more.slice(0, 6);
  if (state.extraViews.length) {
    forgetPart();
    $("image-preview-name").textContent += ` + ${state.extraViews.length} more view${state.extraViews.length > 1 ? "s" : ""}`;
  }
}

function setImageFile(file, { uploadId = null } = {}) {
  if (!file) return;
  state.extraViews = [];
  forgetPart();
  const isTiff = /\.tiff?$/i.test(file.name || "");
  if (!(IMAGE_TYPES.test(file.type) || isTiff)) {
    showError(`“${file.name || "that file"}” is not an image (PNG, JPEG, GIF, WebP, BMP or TIFF).`);
    return;
  }
  if (file.size > MAX_UPLOAD_MB * 1024 * 1024) {
    showError(`“${file.name}” is ${(file.size / 1048576).toFixed(1)} MB; the limit is ${MAX_UPLOAD_MB} MB.`);
    return;
  }
  showError("");
  clearSimilar(false);
  state.imageFile = file;
  state.uploadId = uploadId;
  uploadKept = uploadId ? Promise.resolve(uploadId) : keepUpload(file).then((id) => {
    if (state.imageFile === file) state.uploadId = id;
    return id;
  }, () => null);   // not kept (no IndexedDB): the URL names no drawing
  const img = $("image-preview-img");
  img.removeAttribute("src");
  img.hidden = false;
  img.alt = `Uploaded drawing ${file.name || ""}`.trim();
  setQuery(null);
  // rendered by the server (TIFF included), as the search reads it; the compare view shows the same PNG
  renderUpload(file, img).then((url) => {
    if (url) setQuery({ kind: "upload", url, name: file.name || "pasted image" });
  }, (err) => showError(`The drawing cannot be shown: ${explainError(err)}`));
  $("image-preview-name").textContent = `${file.name || "pasted image"} (${Math.max(1, Math.round(file.size / 1024))} KB)`;
  $("image-preview").hidden = false;
  $("dropzone-label").hidden = true;
}

function clearImage(focus = true) {
  if (state.imageFile) { forgetUpload(); setQuery(null); }
  state.extraViews = [];
  forgetPart();
  state.imageFile = null;
  state.uploadId = null;
  uploadKept = null;
  $("image-input").value = "";
  $("image-preview").hidden = true;
  $("dropzone-label").hidden = !$("similar-to").hidden;
  if (focus) $("image-input").focus();
}

function setSimilar(hit) {
  clearImage(false);
  state.watchId = null;
  state.vector = null;
  $("similar-to-label").replaceChildren("More like figure ", $("similar-to-id"));
  $("similar-to-img").hidden = false;
  state.imageFigureId = hit.figure_id;
  forgetPart();
  setQuery({ kind: "figure", hit });
  $("similar-to-id").textContent = `${hit.publication_number || ""} ${figureLabel(hit)}`.trim();
  $("similar-to").dataset.figureId = hit.figure_id;
  api.loadImage($("similar-to-img"), hit.thumbnail_url || `/figures/${encodeURIComponent(hit.figure_id)}/thumbnail`);
  $("similar-to-img").alt = `Figure ${hit.figure_id}`;
  $("similar-to").hidden = false;
  renderSimilarExcludes(hit);
  $("dropzone-label").hidden = true;
}

function clearSimilar(focus = true) {
  if (state.imageFigureId) setQuery(null);
  state.imageFigureId = null;
  state.watchId = null;
  state.vector = null;
  $("similar-to").hidden = true;
  $("dropzone-label").hidden = !$("image-preview").hidden;
  if (focus) $("image-input").focus();
}

/** The results on screen were found with the drawing just removed: search again with the text, or clear
 *  them (they must not stay under a query that no longer asks for them). */
function drawingRemoved() {
  if (!last) return;
  if ($("q-text").value.trim()) { runSearch(); return; }
  inFlight?.abort();
  clearResults();
  setStatus("");
  showNotice("");
  setMessage($("empty"), "The drawing was removed: type a description or add a drawing, then search.");
  body.dataset.searchState = "cleared";
}

/** No results on screen, nothing to export or save (a failed search must not leave the last one's). */
function clearResults() {
  last = null;
  matchedFigures.clear();
  $("results").replaceChildren();
  $("facets").hidden = true;
  $("parsed-query").hidden = true;
  $("partial-notice").hidden = true;
  $("more-button").hidden = true;
  $("export-button").disabled = true;
  $("watch-button").disabled = true;
  setMessage($("empty"), "");
}

function initImageInput() {
  const zone = $("dropzone");
  $("image-input").addEventListener("change", (e) => setImageFiles([...e.target.files]));
  partBoxes = [attachPartBox($("image-preview-img"), (crop) => { state.crop = crop; }),
               attachPartBox($("similar-to-img"), (crop) => { state.crop = crop; })];
  $("image-clear").addEventListener("click", () => { clearImage(); drawingRemoved(); });
  $("similar-clear").addEventListener("click", () => { clearSimilar(); drawingRemoved(); });
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.add("dragging"); });
  }
  zone.addEventListener("dragleave", (e) => { if (!zone.contains(e.relatedTarget)) zone.classList.remove("dragging"); });
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    const files = [...(e.dataTransfer?.files || [])];
    if (files.length) setImageFiles(files); else showError("Drop an image file (the drop held no file).");
  });
  // a drop outside the box must not navigate away from the page
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  document.addEventListener("paste", (e) => {
    const file = [...(e.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
    if (file) { e.preventDefault(); setImageFile(file); }
  });
}

// ---- classification filters --------------------------------------------------------------------
function exclusionChip(kind, value, index) {
  const label = kind === "family" ? `not family ${value}` : `not patent ${value}`;
  return h("li", { class: "chip chip-exclude chip-exclusion", dataset: { exclude: kind, value } },
    h("span", { class: "chip-text" }, label),
    h("button", { type: "button", class: "chip-remove", "aria-label": `Remove the exclusion ${label}`,
                  onclick: () => {
                    (kind === "family" ? state.excludeFamilies : state.excludePatents).splice(index, 1);
                    renderChips();
                    $("cls-input").focus();
                    if (last) runSearch();
                  } }, "×"));
}

function renderChips() {
  const ul = $("cls-chips");
  renderClassificationChips(ul);
  ul.append(...state.excludePatents.map((p, i) => exclusionChip("patent", p, i)),
            ...state.excludeFamilies.map((f, i) => exclusionChip("family", f, i)));
}

/** Leave a patent, or its family, out of the results (drawing and more-like-this queries). */
function exclude({ patent = null, family = null }) {
  const list = family ? state.excludeFamilies : state.excludePatents;
  const value = family || patent;
  if (!value || list.includes(value)) return;
  list.push(value);
  renderChips();
  showNotice(family ? `Left out the family of ${patent || family} (${family}).` : `Left out ${patent}.`);
  if (last) runSearch();
}

/** "Exclude this patent / its family" for the figure a more-like-this search starts from. */
function renderSimilarExcludes(hit) {
  document.getElementById("similar-exclude")?.remove();
  const number = hit.publication_number;
  if (!number) return;
  $("similar-to").append(h("p", { id: "similar-exclude", class: "exclude-actions" },
    h("button", { type: "button", class: "btn btn-small btn-link", id: "similar-exclude-patent",
                  onclick: () => exclude({ patent: number }) }, "Exclude this patent"),
    hit.family_id ? h("button", { type: "button", class: "btn btn-small btn-link", id: "similar-exclude-family",
                                  onclick: () => exclude({ patent: number, family: hit.family_id }) },
                      "Exclude its family") : null));
}

function renderClassificationChips(ul) {
  ul.replaceChildren(...state.classifications.map((chip, i) => {
    const label = `${chip.mode === "exclude" ? "not " : ""}${SCHEMES[chip.scheme]} ${chip.symbol}`;
    return h("li", { class: `chip chip-${chip.mode}`, dataset: { scheme: chip.scheme, symbol: chip.symbol, mode: chip.mode } },
      h("span", { class: "chip-text", title: chip.title || "" }, label,
        chip.title ? h("span", { class: "chip-title" }, ` — ${chip.title}`) : null),
      h("button", { type: "button", class: "chip-remove", "aria-label": `Remove filter ${label}`,
                    onclick: () => removeChip(i) }, "×"));
  }));
}

function addChip(chip) {
  const symbol = chip.symbol.trim();
  if (!symbol) return;
  const exists = state.classifications.some((c) => c.scheme === chip.scheme && c.symbol === symbol && c.mode === chip.mode);
  if (!exists) state.classifications.push({ ...chip, symbol });
  renderChips();
  if (last) runSearch();
}

function removeChip(index) {
  state.classifications.splice(index, 1);
  renderChips();
  $("cls-input").focus();
  if (last) runSearch();
}

function initClassifications() {
  new Combobox($("cls-input"), $("cls-listbox"), {
    fetchSuggestions: (q, signal) => {
      return api.suggest(q, $("cls-scheme").value, signal);   // CPC, IPC (from the CPC titles), Locarno
    },
    onPick: (option) => addChip({ scheme: $("cls-scheme").value, mode: $("cls-mode").value,
                                  symbol: option.symbol, title: option.title }),
  });
}

/** A facet of applicant, country or publication year: its filter field set, and the search run again. */
function applyFieldFacet({ kind, value }) {
  if (kind === "applicant") $("applicants").value = value;
  else if (kind === "country") $("countries").value = value;
  else if (kind === "year") {
    $("date-type").value = "publication";
    $("date-from").value = `${value}-01-01`;
    $("date-to").value = `${value}-12-31`;
  }
  runSearch();
}

function clearFilters() {
  state.classifications = [];
  state.excludePatents = [];
  state.excludeFamilies = [];
  renderChips();
  for (const id of ["date-from", "date-to", "applicants", "countries", "kinds"]) $(id).value = "";
  if (last) runSearch();
}

// ---- search -------------------------------------------------------------------------------------
function zoom(hit) {
  openZoom(hit, { onCompare: compare });
}

/** The compare view on `hit`; closing it puts the focus back on the hit's card. */
function compare(hit) {
  openCompare(hit, { onPartSearch: partSearch, onClose: (shown) => {
    const figure = document.querySelector(`#results [data-figure-id="${CSS.escape(shown.figure_id)}"]`);
    figure?.closest("article")?.querySelector(".card-title a")?.focus();
  } });
}

/** A part of an indexed figure (a box drawn in the compare view): more like that part alone. */
function partSearch(hit, crop) {
  setSimilar(hit);
  state.crop = crop;
  partBoxes[1]?.set(crop);
  $("q-text").value = "";
  if ($("search-view").hidden) showSearch();
  runSearch();
}

const handlers = {
  onOpenPatent: (number) => { lastOpener = document.activeElement; showPatent(number, { push: true }); },
  onExclude: (what) => exclude(what),
  onMoreLikeThis: (hit) => moreLikeThis(hit),
  onZoom: zoom,
};

function moreLikeThis(hit) {
  setSimilar(hit);
  $("q-text").value = "";
  if ($("search-view").hidden) showSearch();   // the search's own address is pushed when it is on screen
  runSearch();
  $("q-text").focus({ preventScroll: true });
}

/** "30 patents · showing 20" / "110 figures · showing 20": the server's total (what Load more reaches and
 *  Export CSV writes) and what is on screen, in the unit of the list (patents grouped, figures not). */
function describeTotal(total, search) {
  const grouped = search.state.groupByPatent;
  const shown = grouped ? search.shownGroups : search.shownHits;
  const noun = grouped ? (total === 1 ? "patent" : "patents") : (total === 1 ? "figure" : "figures");
  const count = search.relation === "gte" ? `at least ${total}` : String(total);
  return shown < total ? `${count} ${noun} · showing ${shown}` : `${count} ${noun}`;
}

/** The figures of each patent the results show, best first (the patent page marks them). */
function rememberMatches(hits, append) {
  if (!append) matchedFigures.clear();
  for (const hit of hits) {
    const list = matchedFigures.get(hit.publication_number) || [];
    if (!list.includes(hit.figure_id)) list.push(hit.figure_id);
    matchedFigures.set(hit.publication_number, list);
  }
}

const warningText = (warnings) => (warnings || []).map((w) => w.replace(/^filters\.\w+: /, "")).join("; ");

function emptyMessage(s, warnings) {
  const tips = [];
  const why = warningText(warnings);
  const filterCount = s.classifications.length + (s.dateFrom || s.dateTo ? 1 : 0)
    + (s.applicants.trim() ? 1 : 0) + (s.countries.trim() ? 1 : 0) + (s.kinds.trim() ? 1 : 0);
  if (filterCount === 1) tips.push("remove the active filter");
  else if (filterCount > 1) tips.push(`remove some of the ${filterCount} active filters`);
  if (!s.text.trim()) tips.push("add a description");
  if (!s.imageFile && !s.imageFigureId) tips.push("add a drawing");
  tips.push("use broader words");
  const head = why ? `No results: ${why}.` : "No patents match this search.";
  return `${head} Try to ${tips.join(", or ")}.`;
}

/** The search on screen as the page's address: "push" a new history entry, "replace" this one, or "none"
 *  (the address already says it: a reload, Back/Forward). */
function recordUrl(searched, pages, mode) {
  shownSearch = toSearchString(searched, { pages });
  if (mode === "none" || $("search-view").hidden) return;
  const url = `/${shownSearch}`;
  if (mode === "replace" || location.pathname + location.search === url) history.replaceState({ view: "search" }, "", url);
  else history.pushState({ view: "search" }, "", url);
}

/** A malformed query: where it goes wrong, and a corrected query to search with in one click. */
function offerCorrection(text, detail) {
  const at = (errorPosition(detail) || 0) - 1;
  const error = $("error");
  if (at >= 0 && at <= text.length) {
    error.append(h("p", { class: "query-position" }, h("code", {}, text.slice(0, at),
      h("mark", { "aria-label": `position ${at + 1}` }, text[at] || " "), text.slice(at + 1))));
  }
  const fixed = correctedQuery(text, detail);
  if (!fixed) return;
  error.append(h("p", { class: "query-fix" }, "Search instead for ",
    h("button", { type: "button", class: "btn btn-small btn-link", id: "query-fix",
                  onclick: () => { $("q-text").value = fixed; runSearch(); } }, fixed)));
}

/** Bring back the search a URL query string names (reload, Back/Forward, a bookmark, a watch opened as
 *  its search), with as many pages as it had on screen. */
async function restoreSearch(search) {
  const wanted = fromSearchString(search);
  inFlight?.abort();
  clearImage(false);
  clearSimilar(false);
  if (!wanted) {
    shownSearch = "";
    clearResults();
    setStatus("");
    showError("");
    $("q-text").value = "";
    $("welcome").hidden = false;
    return;
  }
  const s = wanted.state;
  const values = { "q-text": s.text, "date-type": s.dateType, "date-from": s.dateFrom, "date-to": s.dateTo,
                   applicants: s.applicants, countries: s.countries, kinds: s.kinds, "w-text": s.weightText,
                   "w-image": s.weightImage, fusion: s.fusion, "page-size": s.size };
  for (const [id, value] of Object.entries(values)) $(id).value = value;
  for (const id of ["w-text", "w-image"]) $(`${id}-out`).textContent = Number($(id).value).toFixed(1);
  $("group-by-patent").checked = s.groupByPatent;
  Object.assign(state, { classifications: s.classifications, excludePatents: s.excludePatents,
                         excludeFamilies: s.excludeFamilies });
  renderChips();
  state.editWatch = null;
  if (s.editWatchId) {   // opened from a watch: saving can update it (its text, drawing, filters)
    const watch = await api.getWatch(s.editWatchId).catch(() => null);
    if (watch) state.editWatch = { id: watch.id, name: watch.name, schedule_s: watch.schedule_s };
  }
  if (s.uploadId) {
    const file = await loadUpload(s.uploadId);
    if (file) setImageFile(file, { uploadId: s.uploadId });
    else showError("The drawing of this search was uploaded in another browser and is kept there only: "
                   + "add it again to search with it.");
    if (!file && !s.text.trim()) { clearResults(); return; }
  } else if (s.imageFigureId) {
    setSimilar({ figure_id: s.imageFigureId });
    api.figure(s.imageFigureId).then((fig) => {
      if (state.imageFigureId === s.imageFigureId && fig) {
        $("similar-to-id").textContent = `${fig.publication_number || ""} ${figureLabel(fig)}`.trim();
      }
    }, () => {});
  } else if (s.watchId) {
    try {
      const watch = await api.getWatch(s.watchId);
      if (watch?.query?.vector) showWatchDrawing(watch);
    } catch (err) {
      showError(`The drawing of watch ${s.watchId} cannot be read: ${explainError(err)}`);
    }
  }
  await runSearch({ history: "none" });
  for (let page = 1; page < wanted.pages && last?.nextCursor; page += 1) await runSearch({ append: true });
  if (last && location.search !== shownSearch) history.replaceState(history.state, "", `/${shownSearch}`);
}

/** A watch's stored drawing (its query vector) as the query drawing. */
function showWatchDrawing(watch) {
  state.watchId = String(watch.id);
  state.vector = watch.query.vector;
  $("similar-to-label").replaceChildren(`The drawing saved with the watch “${watch.name}”`);
  $("similar-to-img").hidden = true;
  $("similar-to").hidden = false;
  $("dropzone-label").hidden = true;
}

async function runSearch({ append = false, history: historyMode = "push" } = {}) {
  if (!append) readForm();
  const current = append ? last.state : snapshot();
  const problem = validate(current);
  if (problem) { showError(problem); $("q-text").focus(); return; }
  if (needsKey(() => runSearch({ append, history: historyMode }))) return;
  if (current.imageFile && !current.uploadId && uploadKept) current.uploadId = await uploadKept;
  const fromBox = [$("q-text"), $("search-button")].includes(document.activeElement);
  const requestBody = buildRequest(current, { cursor: append ? last.nextCursor : null });
  // several views: every file goes with the request (POST /search fuses them per patent)
  const imageFile = current.imageFile && current.extraViews?.length ? [current.imageFile, ...current.extraViews]
    : current.imageFile;
  inFlight?.abort();
  const controller = (inFlight = new AbortController());
  showError("");
  if (!append) showNotice("");
  $("welcome").hidden = true;
  $("results").setAttribute("aria-busy", "true");
  body.classList.add("busy");
  setStatus(append ? "Loading more…" : "Searching…");
  try {
    const data = await api.search(requestBody, imageFile, controller.signal);
    const hits = data.hits || [];
    const shownGroups = append ? last.shownGroups : 0;
    remember(hits);
    const figures = !current.groupByPatent;
    const startRank = (figures ? (append ? last.shownHits : 0) : shownGroups) + 1;
    const added = renderResults($("results"), hits, {
      append, startRank, figures, ...handlers, canExclude: () => Boolean(current.imageFile || current.imageFigureId) });
    rememberMatches(hits, append);
    decorateCards($("results"), { onCompare: compare });
    last = {
      state: current, body: requestBody, imageFile, nextCursor: data.next_cursor || null,
      shownGroups: shownGroups + added, shownHits: (append ? last.shownHits : 0) + hits.length,
      total: data.total ?? hits.length, pages: append ? last.pages + 1 : 1,
    };
    recordUrl(current, last.pages, append ? "replace" : historyMode);
    if (!append) renderFacets($("facets"), data.facets, (chip) => addChip(chip), applyFieldFacet);
    // with results the warning is a note above them; without, the empty message says it (not twice)
    if (!append && data.warnings?.length && hits.length) showNotice(`Note: ${warningText(data.warnings)}.`);
    if (!append) {
      $("parsed-query").textContent = data.parsed_query ? `Query: ${data.parsed_query}` : "";
      $("parsed-query").hidden = !data.parsed_query;
      $("partial-notice").textContent = data.partial ? partialText(data.shards || {}) : "";
      $("partial-notice").hidden = !data.partial;
    }
    last.relation = data.total_relation || "eq";
    setMessage($("empty"), last.shownHits ? "" : emptyMessage(current, data.warnings));
    setStatus(last.shownHits ? describeTotal(last.total, last) : "No results");
    $("more-button").hidden = !last.nextCursor;
    $("watch-button").disabled = false;
    $("export-button").disabled = !last.shownHits;
    // the keys (j k x c ? Esc) act on the results now, not on the query box
    if (!append && fromBox && [$("q-text"), $("search-button")].includes(document.activeElement)) {
      $("results").focus({ preventScroll: true });
    }
    body.dataset.searchState = "done";
  } catch (err) {
    if (err.name === "AbortError") return;
    clearResults();
    showError(explainError(err));
    if (err.status === 400 && /^text: /.test(err.message)) offerCorrection(current.text, err.message);
    setStatus("Search failed");
    body.dataset.searchState = "error";
    if (err.status === 401) openKeyDialog(() => runSearch({ append, history: historyMode }));
  } finally {
    if (inFlight === controller) {
      inFlight = null;
      $("results").setAttribute("aria-busy", "false");
      body.classList.remove("busy");
    }
  }
}

// ---- export and watches -------------------------------------------------------------------------
/** Data rows of a CSV text (quoted fields may hold newlines; the header is not counted). */
function countCsvRows(text) {
  let rows = 0;
  let quoted = false;
  let lineHasData = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === "\n" && !quoted) {
      if (lineHasData) rows += 1;
      lineHasData = false;
    } else if (ch !== "\r") {
      lineHasData = true;
    }
  }
  if (lineHasData) rows += 1;
  return Math.max(0, rows - 1);
}

async function exportResults() {
  if (!last) return;
  const button = $("export-button");
  button.disabled = true;
  showError("");
  setStatus("Exporting…");
  try {
    const exportBody = { ...last.body, cursor: null };
    const { blob, filename } = await api.exportCsv(exportBody, last.imageFile);
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: filename, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    const rows = countCsvRows(await blob.text());
    showNotice(`Exported ${rows} result${rows === 1 ? "" : "s"} to ${filename}.`);
    setStatus(describeTotal(last.total, last));
  } catch (err) {
    showError(`Export failed: ${explainError(err)}`);
    setStatus("Export failed");
  } finally {
    button.disabled = false;
  }
}

function openWatchDialog() {
  if (!last) return;
  showError("");
  setMessage($("watch-error"), "");
  $("watch-name").value = defaultWatchName(last.state);
  $("watch-webhook").value = "";
  const editing = last.state.editWatch;
  $("watch-update-row").hidden = !editing;
  $("watch-update").checked = Boolean(editing);
  if (editing) {
    $("watch-update-name").textContent = editing.name;
    $("watch-name").value = editing.name;
    $("watch-schedule").value = String(editing.schedule_s);
  }
  const kept = shortlisted().length;
  $("watch-shortlist-row").hidden = !kept;
  $("watch-shortlist-count").textContent = `${kept} patent${kept === 1 ? "" : "s"}`;
  $("watch-dialog").showModal();
  $("watch-name").select();
}

async function saveWatch(event) {
  event.preventDefault();
  const name = $("watch-name").value.trim();
  if (!name) { setMessage($("watch-error"), "Give the watch a name."); $("watch-name").focus(); return; }
  let { query, needsVector } = watchQuery(last.state);
  const webhook = $("watch-webhook").value.trim();
  $("watch-save").disabled = true;
  try {
    if (needsVector) ({ query } = watchQuery(last.state, (await api.embedImage(last.state.imageFile)).vector));
    const payload = { name, query, schedule_s: Number($("watch-schedule").value) };
    if (webhook) payload.webhook_url = webhook;
    const shortlist = !$("watch-shortlist-row").hidden && $("watch-shortlist").checked ? shortlisted() : [];
    if (shortlist.length) payload.shortlist = shortlist;
    const editing = last.state.editWatch && $("watch-update").checked ? last.state.editWatch : null;
    const watch = editing ? await api.updateWatch(editing.id, payload) : await api.createWatch(payload);
    $("watch-dialog").close();
    let text = `${editing ? "Updated" : "Saved"} watch “${watch?.name || name}”${watch?.id != null ? ` (#${watch.id})` : ""}. ` +
      "New filings that match will appear as alerts.";
    if (needsVector) text += " The uploaded drawing is kept with the watch as its image vector.";
    if (watch?.shortlist?.length) text += ` The shortlist (${watch.shortlist.length}) is kept with it.`;
    if (watch?.webhook_secret) text += ` Webhook signing secret (shown once): ${watch.webhook_secret}`;
    showNotice(text);
    $("watch-button").focus();
  } catch (err) {
    setMessage($("watch-error"), explainError(err));
  } finally {
    $("watch-save").disabled = false;
  }
}

// ---- watches and alerts ---------------------------------------------------------------------------
async function refreshAlertBadge() {
  if (AUTH_REQUIRED && !api.getApiKey()) { $("alerts-badge").hidden = true; return; }
  try {
    const unread = await api.listAlerts({ unread: true });
    const n = unread?.total ?? unread?.items?.length ?? 0;
    $("alerts-badge").textContent = n > 99 ? "99+" : String(n);
    $("alerts-badge").hidden = n === 0;
    $("watches-link").setAttribute("aria-label", `Watches and alerts, ${n} unread`);
  } catch { $("alerts-badge").hidden = true; }
}

async function loadMonitor() {
  setMessage($("watches-error"), "");
  if (AUTH_REQUIRED && !api.getApiKey()) {
    setMessage($("watches-error"), "This server requires an API key. Enter it to see your watches and alerts.");
    openKeyDialog(() => loadMonitor());
    return;
  }
  try {
    const [alerts, watches] = await Promise.all([
      api.listAlerts({ unread: $("alerts-unread").checked }), api.listWatches()]);
    renderAlerts($("alerts-list"), alerts.items || [], { onRead: markRead });
    renderWatches($("watches-list"), watches.items || [], { onDelete: removeWatch, onRun: runWatchNow,
                                                            onUpdate: updateWatch });
    refreshAlertBadge();
  } catch (err) {
    setMessage($("watches-error"), explainError(err));
  }
}

async function markRead(alert, button) {
  button.disabled = true;
  try {
    await api.markAlertRead(alert.id);
    await loadMonitor();
    $("alerts-heading").focus?.();
  } catch (err) {
    button.disabled = false;
    setMessage($("watches-error"), explainError(err));
  }
}

async function runWatchNow(watch, button) {
  button.disabled = true;
  setMessage($("watches-error"), "");
  try {
    const run = await api.runWatch(watch.id);
    const text = run.status === "queued" ? `Queued a run of “${watch.name}”.`
      : run.status === "failed" ? `The run of “${watch.name}” failed: ${run.error || "unknown error"}`
      : `Ran “${watch.name}”: ${run.examined} new filing${run.examined === 1 ? "" : "s"} checked, ` +
        `${run.alerts} new alert${run.alerts === 1 ? "" : "s"}.`;
    setMessage($("watches-notice"), text);
    await loadMonitor();
  } catch (err) {
    button.disabled = false;
    setMessage($("watches-error"), explainError(err));
  }
}

async function updateWatch(watch, changes, errorEl) {
  setMessage($("watches-error"), "");
  try {
    const saved = await api.updateWatch(watch.id, changes);
    const what = "active" in changes && Object.keys(changes).length === 1
      ? (saved.active ? "Resumed" : "Paused") : "Saved";
    setMessage($("watches-notice"), `${what} the watch “${saved.name}”.`);
    await loadMonitor();
  } catch (err) {
    if (errorEl) { setMessage(errorEl, explainError(err)); return; }   // keep the form and what was typed
    setMessage($("watches-error"), explainError(err));
    await loadMonitor();
  }
}

async function removeWatch(watch, button) {
  if (!window.confirm(`Delete the watch “${watch.name}” and its alerts?`)) return;
  button.disabled = true;
  try {
    await api.deleteWatch(watch.id);
    setMessage($("watches-notice"), `Deleted the watch “${watch.name}”.`);
    await loadMonitor();
  } catch (err) {
    button.disabled = false;
    setMessage($("watches-error"), explainError(err));
  }
}

function showWatches({ push = false } = {}) {
  if (push) history.pushState({ view: "watches" }, "", "/ui/watches");
  $("search-view").hidden = true;
  $("patent-view").hidden = true;
  $("watches-view").hidden = false;
  document.title = "Watches and alerts — Prism";
  $("watches-heading").focus();
  loadMonitor();
}

// ---- patent view and routing --------------------------------------------------------------------
function showSearch({ push = false } = {}) {
  $("patent-view").hidden = true;
  $("watches-view").hidden = true;
  $("search-view").hidden = false;
  document.title = "Prism — prior-art search";
  if (push) history.pushState({ view: "search" }, "", `/${shownSearch}`);
  return true;
}

async function showPatent(number, { push = false } = {}) {
  if (push) history.pushState({ view: "patent", number, fromSearch: true }, "", patentHref(number));
  $("search-view").hidden = true;
  $("watches-view").hidden = true;
  $("patent-view").hidden = false;
  $("back-link").textContent = last ? "← Back to results" : "← New search";
  setMessage($("patent-error"), "");
  const container = $("patent-body");
  container.replaceChildren(h("p", { class: "loading" }, `Loading ${number}…`));
  container.setAttribute("aria-busy", "true");
  document.title = `${number} — Prism`;
  window.scrollTo(0, 0);
  if (AUTH_REQUIRED && !api.getApiKey()) {
    container.replaceChildren();
    setMessage($("patent-error"), "This server requires an API key. Enter it to see the patent.");
    openKeyDialog(() => showPatent(number));
    return;
  }
  try {
    const data = await api.patent(number);
    const patent = renderPatent(container, data, { onMoreLikeThis: (hit) => moreLikeThis(hit), onZoom: zoom,
                                                   onCompare: (hit, figures) => openCompare(hit, { list: figures, onPartSearch: partSearch }) });
    remember(patent.figures, patent.publication_number);
    document.title = `${patent.publication_number || number} ${patent.title || ""} — Prism`.trim();
    const heading = $("patent-title");
    heading.tabIndex = -1;
    const matched = markMatched(container, matchedFigures.get(patent.publication_number || number) || []);
    heading.focus({ preventScroll: matched > 0 });
  } catch (err) {
    container.replaceChildren();
    setMessage($("patent-error"), explainError(err));
  } finally {
    container.setAttribute("aria-busy", "false");
  }
}

function route() {
  const match = /^\/ui\/patents\/(.+)$/.exec(location.pathname);
  if (match) showPatent(decodeURIComponent(match[1]));
  else if (location.pathname === "/ui/watches") showWatches();
  else {
    showSearch();
    if (location.search !== shownSearch) restoreSearch(location.search);
    else if (lastOpener && document.contains(lastOpener)) lastOpener.focus();
  }
}

function initRouting() {
  window.addEventListener("popstate", route);
  $("back-link").addEventListener("click", (e) => {
    e.preventDefault();
    if (history.state?.fromSearch) history.back();
    else { showSearch({ push: true }); $("q-text").focus(); }
  });
  $("watches-link").addEventListener("click", (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    showWatches({ push: true });
  });
  $("watches-back").addEventListener("click", (e) => {
    e.preventDefault();
    showSearch({ push: true });
    $("q-text").focus();
  });
  $("alerts-unread").addEventListener("change", loadMonitor);
  $("alerts-list").addEventListener("click", (e) => {
    const link = e.target.closest("a.alert-patent");
    if (!link || e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    showPatent(link.textContent, { push: true });
  });
  $("home-link").addEventListener("click", (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    if ($("search-view").hidden) showSearch({ push: true });
    $("q-text").focus();
  });
}

// ---- start --------------------------------------------------------------------------------------
function shortlistBar() {
  const bar = h("div", { id: "shortlist-bar", class: "shortlist-bar", role: "region", "aria-label": "Shortlist", hidden: true });
  $("results").before(bar);
  return bar;
}

function init() {
  initKeyDialog();
  initImageInput();
  initClassifications();
  initRouting();
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); runSearch(); });
  // Esc in the query box leaves it (for the result keys) instead of wiping what was typed
  $("q-text").addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    e.preventDefault();
    $("q-text").blur();
    if (last) $("results").focus({ preventScroll: true });
  });
  $("results").tabIndex = -1;
  // narrow screens: the filters fold away under one button, so the results start near the top
  $("filters-toggle").addEventListener("click", () => {
    const open = body.classList.toggle("filters-open");
    $("filters-toggle").setAttribute("aria-expanded", String(open));
  });
  $("more-button").addEventListener("click", () => runSearch({ append: true }));
  $("export-button").addEventListener("click", exportResults);
  $("watch-button").addEventListener("click", openWatchDialog);
  $("watch-form").addEventListener("submit", saveWatch);
  $("watch-cancel").addEventListener("click", () => $("watch-dialog").close());
  $("clear-filters").addEventListener("click", clearFilters);
  for (const id of ["w-text", "w-image"]) {
    $(id).addEventListener("input", () => { $(`${id}-out`).textContent = Number($(id).value).toFixed(1); });
  }
  document.addEventListener("keydown", (e) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName) || document.querySelector("dialog[open]");
    if (e.key === "/" && !typing && !$("search-view").hidden) { e.preventDefault(); $("q-text").focus(); }
  });
  initShortlist(shortlistBar());
  initKeyboard({
    isSearchView: () => !$("search-view").hidden,
    onOpen: (number) => handlers.onOpenPatent(number),
    onCompare: compare,
    onShortlist: (hit) => toggleShortlist(hit),
  });
  refreshKeyStatus();
  history.replaceState({ view: body.dataset.view, number: body.dataset.publicationNumber || null }, "");
  if (body.dataset.view === "patent" && body.dataset.publicationNumber) {
    showPatent(body.dataset.publicationNumber);
  } else if (body.dataset.view === "watches") {
    showWatches();
  } else if (location.search) {
    restoreSearch(location.search);
  } else {
    $("q-text").focus();
  }
  body.dataset.ready = "true";
}

init();
