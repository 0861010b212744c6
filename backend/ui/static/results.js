// The results grid: hits grouped by patent, one card per patent with its matching drawings,
// the bibliographic line and the reason the patent is here.

import { h } from "./dom.js";
import { classificationText, dateText, figureLabel, list, patentHref, reason, thumbnailUrl } from "./format.js";
import { loadUpright } from "./upright.js";

/** Hits in rank order → [{publication_number, hits: [...]}] in order of each patent's best hit. */
export function groupByPatent(hits) {
  const groups = new Map();
  for (const hit of hits) {
    const key = hit.publication_number || hit.figure_id;
    if (!groups.has(key)) groups.set(key, { publication_number: key, hits: [] });
    groups.get(key).hits.push(hit);
  }
  return [...groups.values()];
}

/** "Text 60% · drawing 40%" with each part in the colour of its share of the bar. */
function colourLabel(label) {
  return label.split(/( · )/).map((part) => {
    if (/^(text|matched on text)/i.test(part)) return h("span", { class: "why-text" }, part);
    if (/^(drawing|matched on drawing)/i.test(part)) return h("span", { class: "why-image" }, part);
    return part;
  });
}

function reasonBlock(hit) {
  const why = reason(hit.explain, hit.score);
  const children = [];
  if (why.textShare != null) {
    const textPart = h("span", { class: "share-text" });
    const imagePart = h("span", { class: "share-image" });
    textPart.style.width = `${(why.textShare * 100).toFixed(1)}%`; // CSSOM, allowed by the page's CSP
    imagePart.style.width = `${(why.imageShare * 100).toFixed(1)}%`;
    children.push(h("div", { class: "share-bar", "aria-hidden": "true" }, textPart, imagePart));
  }
  children.push(h("p", { class: "reason-label" }, h("span", { class: "visually-hidden" }, "Why: "), colourLabel(why.label)));
  if (why.detail) children.push(h("p", { class: "reason-detail" }, why.detail));
  return h("div", { class: "reason", dataset: { textShare: why.textShare ?? "", imageShare: why.imageShare ?? "" } },
    children);
}

/** A hit without a stored drawing (a text-only patent, or a figure described but not delivered):
 *  a text card instead of an image that cannot load. */
function textThumbnail(hit) {
  const what = hit.figure_number === 0 ? "Text only: no drawings" : "Drawing not available";
  return h("figure", { class: "thumb thumb-text", dataset: { figureId: hit.figure_id } },
    h("div", { class: "text-only", title: hit.description || what }, what),
    h("figcaption", {}, h("span", { class: "fig-no" }, figureLabel(hit))));
}

/** A figure cut from a sheet of several (`figure_box`: left, top, right, bottom as shares of the sheet): a
 *  small sheet with the figure's box outlined, so the examiner sees which part of the sheet matched. */
export function sheetLocator(hit) {
  const box = hit.figure_box;
  if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)) return null;
  const [left, top, right, bottom] = box;
  if (left >= right || top >= bottom) return null;
  const pct = (v) => `${Math.round(v * 100)}%`;
  const outline = h("span", { class: "sheet-box" });
  Object.assign(outline.style, { left: pct(left), top: pct(top), width: pct(right - left), height: pct(bottom - top) });
  const where = `left ${pct(left)}–${pct(right)}, top ${pct(top)}–${pct(bottom)} of the sheet`;
  return h("span", { class: "sheet-locator", role: "img", title: `This figure is a part of its sheet: ${where}`,
                     "aria-label": `Part of the sheet: ${where}`, dataset: { figureBox: box.join(",") } }, outline);
}

function thumbnail(hit, { onMoreLikeThis, onZoom }) {
  if (hit.has_image === false) return textThumbnail(hit);
  const img = h("img", { alt: `${hit.publication_number} ${figureLabel(hit)}`, loading: "lazy", decoding: "async" });
  loadUpright(img, hit.figure_id, thumbnailUrl(hit));
  return h("figure", { class: "thumb", dataset: { figureId: hit.figure_id } },
    h("button", { type: "button", class: "thumb-button", title: hit.description || figureLabel(hit),
                  "aria-label": `Enlarge ${hit.publication_number} ${figureLabel(hit)}`,
                  onclick: () => onZoom(hit) }, img, sheetLocator(hit)),
    h("figcaption", {},
      h("span", { class: "fig-no" }, figureLabel(hit)),
      h("button", { type: "button", class: "btn btn-small btn-link mlt",
                    "aria-label": `More like ${hit.publication_number} ${figureLabel(hit)}`,
                    onclick: () => onMoreLikeThis(hit) }, "More like this")));
}

const ENTITIES = { "&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };
const SNIPPET_FIELDS = { abstract: "Abstract", claims: "Claims", description: "Figure", captions: "Caption" };

/** The hit's best text snippet (the server marks matched words with <mark> and escapes the rest) as
 *  DOM nodes - parsed here, never assigned as HTML. */
export function snippetLine(hit) {
  const snippets = hit.snippets || {};
  const field = Object.keys(SNIPPET_FIELDS).find((f) => snippets[f]);
  if (!field) return null;
  const parts = [];
  let marked = false;
  for (const piece of snippets[field].split(/(<mark>|<\/mark>)/)) {
    if (piece === "<mark>") marked = true;
    else if (piece === "</mark>") marked = false;
    else if (piece) {
      const text = piece.replace(/&(lt|gt|amp|quot|#x27|#39);/g, (m) => ENTITIES[m]);
      parts.push(marked ? h("mark", {}, text) : text);
    }
  }
  return h("p", { class: "snippet" }, h("span", { class: "snippet-field" }, `${SNIPPET_FIELDS[field]}: `), parts);
}

/** "Exclude patent" / "Exclude family" buttons (drawing and more-like-this queries: leave a patent, or its
 *  whole family, out of the results). */
function excludeButtons(hit, handlers) {
  if (!handlers.canExclude?.()) return null;
  const number = hit.publication_number;
  return h("p", { class: "exclude-actions" },
    h("button", { type: "button", class: "btn btn-small btn-link exclude-patent",
                  "aria-label": `Exclude patent ${number} from the results`,
                  onclick: () => handlers.onExclude({ patent: number }) }, "Exclude patent"),
    hit.family_id ? h("button", { type: "button", class: "btn btn-small btn-link exclude-family",
                                  "aria-label": `Exclude the family of ${number} from the results`,
                                  onclick: () => handlers.onExclude({ family: hit.family_id, patent: number }) },
                      "Exclude family") : null);
}

function titleLink(number, text, handlers, matched) {
  return h("a", { href: patentHref(number), class: "patent-link",
                  onclick: (event) => {
                    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button) return;
                    event.preventDefault();
                    handlers.onOpenPatent(number, matched);
                  } }, text || number);
}

/** Ungrouped mode: one tile per figure in a regular grid, each with its own reason. */
export function figureTile(hit, rank, handlers) {
  const number = hit.publication_number;
  const titleId = `hit-title-${hit.figure_id.replace(/[^A-Za-z0-9_-]/g, "_")}-${rank}`;
  return h("article", { class: "card figure-card", "aria-labelledby": titleId,
                        dataset: { publicationNumber: number, figureId: hit.figure_id } },
    h("div", { class: "thumbs" }, thumbnail(hit, handlers)),
    h("div", { class: "card-body" },
      h("h3", { class: "card-title", id: titleId },
        h("span", { class: "rank" }, `${rank}.`), " ", titleLink(number, hit.title, handlers, [hit.figure_id])),
      h("p", { class: "bib" }, [number, figureLabel(hit), dateText(hit)].filter(Boolean).join(" · ")),
      snippetLine(hit),
      reasonBlock(hit),
      excludeButtons(hit, handlers)));
}

export function patentCard(group, rank, handlers) {
  const best = group.hits[0];
  const number = group.publication_number;
  const titleId = `hit-title-${number.replace(/[^A-Za-z0-9_-]/g, "_")}-${rank}`;
  const applicants = list(best.applicants);
  const bib = [number + (best.kind ? ` ${best.kind}` : ""), best.country, dateText(best)].filter(Boolean);
  const size = group.hits.length >= 3 ? "card card-wide" : "card";
  return h("article", { class: size, "aria-labelledby": titleId, dataset: { publicationNumber: number } },
    h("div", { class: "thumbs" }, group.hits.map((hit) => thumbnail(hit, handlers))),
    h("div", { class: "card-body" },
      h("h3", { class: "card-title", id: titleId },
        h("span", { class: "rank" }, `${rank}.`), " ",
        titleLink(number, best.title, handlers, group.hits.map((hit) => hit.figure_id))),
      snippetLine(best),
      h("p", { class: "bib" }, bib.join(" · ")),
      classificationText(best) ? h("p", { class: "cls" }, classificationText(best)) : null,
      applicants.length ? h("p", { class: "applicants" }, applicants.join("; ")) : null,
      reasonBlock(best),
      excludeButtons(best, handlers)));
}

/** Render the hits into the container (appending when `append`): grouped, one card per patent; ungrouped
 *  (`figures`), one tile per figure. Returns the number of cards added. */
export function renderResults(container, hits, { append = false, startRank = 1, figures = false, ...handlers }) {
  if (!append) container.replaceChildren();
  container.classList.toggle("figure-results", figures);
  if (figures) {
    hits.forEach((hit, i) => container.append(figureTile(hit, startRank + i, handlers)));
    return hits.length;
  }
  const groups = groupByPatent(hits);
  groups.forEach((group, i) => container.append(patentCard(group, startRank + i, handlers)));
  return groups.length;
}

/** Facet buckets as buttons that add a classification filter. */
/** "Articles of clothing and haberdashery" -> "Articles of clothing…" (the whole title is the tooltip). */
function shortTitle(title) {
  const clean = title.replace(/\s*\(.*$/, "");
  const sentence = clean.charAt(0) + clean.slice(1).toLowerCase();
  return sentence.length > 28 ? `${sentence.slice(0, 26).trimEnd()}… ` : `${sentence} `;
}

const FIELD_FACETS = { applicant_keys: ["applicant", "Applicant"], country: ["country", "Country"], year: ["year", "Year"] };

export function renderFacets(container, facets, onPick, onField = null) {
  container.replaceChildren();
  const sections = [];
  for (const [name, buckets] of Object.entries(facets || {})) {
    if (!Array.isArray(buckets) || !buckets.length) continue;
    if (FIELD_FACETS[name]) {   // applicant, country, publication year: a filter field, not a class chip
      if (!onField) continue;
      const [kind, label] = FIELD_FACETS[name];
      sections.push(h("div", { class: "facet", dataset: { facet: kind } },
        h("span", { class: "facet-name" }, `${label}:`),
        buckets.slice(0, 8).map((b) => h("button", {
          type: "button", class: "chip chip-button", "aria-label": `Only ${label.toLowerCase()} ${b.key} (${b.count} results)`,
          onclick: () => onField({ kind, value: String(b.key) }),
        }, `${b.key} `, h("span", { class: "count" }, String(b.count))))));
      continue;
    }
    const scheme = name.startsWith("locarno") ? "locarno" : name.startsWith("ipc") ? "ipc" : name.startsWith("cpc") ? "cpc" : null;
    if (!scheme) continue;
    const label = { cpc: "CPC", locarno: "Locarno", ipc: "IPC" }[scheme];
    sections.push(h("div", { class: "facet" },
      h("span", { class: "facet-name" }, `${label}:`),
      buckets.slice(0, 12).map((b) => h("button", {
        type: "button", class: "chip chip-button", title: `Only ${label} ${b.key}`,
        "aria-label": `Filter to ${label} ${b.key}${b.title ? ` ${b.title}` : ""} (${b.count} results)`,
        onclick: () => onPick({ scheme, symbol: String(b.key), mode: "include", title: b.title || "" }),
      }, `${b.key} `, b.title ? h("span", { class: "facet-title" }, shortTitle(b.title)) : null,
      h("span", { class: "count" }, String(b.count))))));
  }
  if (sections.length) container.append(h("p", { class: "facet-head" }, "Refine:"), ...sections);
  container.hidden = !sections.length;
}
