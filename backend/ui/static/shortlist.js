// The shortlist: patents the examiner picks from the results (x, or the card's ☆ button), kept in this
// browser (localStorage) across searches, exported as CSV, and sent along when the search is saved as a watch.

import { call } from "./api.js";
import { h } from "./dom.js";
import { list } from "./format.js";

const STORAGE = "prism.shortlist";
const entries = new Map();   // publication number -> entry, in the order they were added
const listeners = [];

function load() {
  try {
    for (const e of JSON.parse(localStorage.getItem(STORAGE) || "[]")) {
      if (e && typeof e.publication_number === "string") entries.set(e.publication_number, e);
    }
  } catch { /* unreadable: start empty */ }
}

function save() {
  try { localStorage.setItem(STORAGE, JSON.stringify([...entries.values()])); } catch { /* full or off */ }
  for (const fn of listeners) fn();
}

export function onChange(fn) { listeners.push(fn); }
export function has(number) { return entries.has(number); }
export function items() { return [...entries.values()]; }
export function numbers() { return [...entries.keys()]; }

/** Add the patent of `hit` (a search hit or figure), or remove it when it is there. Returns true if added. */
export function toggle(hit) {
  const number = hit.publication_number;
  if (!number) return false;
  if (entries.has(number)) {
    entries.delete(number);
    save();
    return false;
  }
  entries.set(number, {
    publication_number: number, title: hit.title || "", kind: hit.kind || "", country: hit.country || "",
    publication_date: hit.publication_date || "", applicants: list(hit.applicants).join("; "),
    figure_id: hit.figure_id || "", added_at: new Date().toISOString().slice(0, 19) + "Z",
  });
  save();
  return true;
}

export function clear() {
  entries.clear();
  save();
}

/** The CSV is written by the server (POST /shortlist/export), with the same writer as the results' export:
 *  cells a spreadsheet would run as formulas are made inert there, in one place. */
async function download() {
  let blob;
  try {
    blob = await (await call("POST", "/shortlist/export", { json: { rows: items() }, accept: "text/csv" })).blob();
  } catch (err) {
    window.alert(`The shortlist could not be exported: ${err.message}`);
    return;
  }
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: "prism-shortlist.csv", hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The shortlist bar above the results: count, the patents as links, export and clear. */
function renderBar(bar) {
  const all = items();
  bar.hidden = !all.length;
  bar.replaceChildren(
    h("span", { class: "shortlist-label" }, "Shortlist: ", h("strong", { id: "shortlist-count" }, String(all.length)),
      ` patent${all.length === 1 ? "" : "s"}`),
    h("ul", { class: "shortlist-items", "aria-label": "Shortlisted patents" },
      all.map((e) => h("li", {}, h("a", { href: `/ui/patents/${encodeURIComponent(e.publication_number)}`,
                                          title: e.title }, e.publication_number)))),
    h("button", { type: "button", class: "btn btn-small", id: "shortlist-export", onclick: download }, "Export shortlist CSV"),
    h("button", { type: "button", class: "btn btn-small btn-ghost", id: "shortlist-clear",
                  onclick: () => { if (window.confirm(`Clear the shortlist of ${all.length}?`)) clear(); } }, "Clear"));
}

/** The ☆ toggle of one card (kept in step with the shortlist). */
export function toggleButton(hit) {
  const number = hit.publication_number;
  const button = h("button", { type: "button", class: "btn btn-small shortlist-toggle", dataset: { publicationNumber: number } });
  const paint = () => {
    const on = entries.has(number);
    button.textContent = on ? "★ Shortlisted" : "☆ Shortlist";
    button.setAttribute("aria-pressed", String(on));
    button.setAttribute("aria-label", `${on ? "Remove" : "Add"} ${number} ${on ? "from" : "to"} the shortlist (x)`);
    button.closest("article")?.classList.toggle("shortlisted", on);
  };
  button.addEventListener("click", () => toggle(hit));
  button.paint = paint;
  return button;
}

export function initShortlist(bar) {
  load();
  const repaint = () => {
    renderBar(bar);
    for (const b of document.querySelectorAll(".shortlist-toggle")) b.paint?.();
  };
  onChange(repaint);
  window.addEventListener("storage", (e) => {   // another tab changed it
    if (e.key !== STORAGE) return;
    entries.clear();
    load();
    repaint();
  });
  repaint();
}
