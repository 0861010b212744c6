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

function store() {
  try { localStorage.setItem(STORAGE, JSON.stringify([...entries.values()])); } catch { /* full or off */ }
}

function save() {
  store();
  for (const fn of listeners) fn();
}

/** The examiner's category of a shortlisted patent (search-report style: X relevant alone, Y in
 *  combination, A background) and note; kept as typed (the bar is not redrawn under the cursor). */
export function annotate(number, changes) {
  const entry = entries.get(number);
  if (!entry) return;
  Object.assign(entry, changes);
  store();
}

export const CATEGORIES = { "": "—", X: "X: relevant alone", Y: "Y: relevant in combination", A: "A: background" };

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
    publication_date: hit.publication_date || "", filing_date: hit.filing_date || "",
    priority_date: hit.priority_date || "", applicants: list(hit.applicants).join("; "),
    figure_id: hit.figure_id || "", added_at: new Date().toISOString().slice(0, 19) + "Z", category: "", note: "",
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
    const rows = items().map((e) => ({
      ...e, category: e.category || "", note: e.note || "",
      patent_url: `${location.origin}/ui/patents/${encodeURIComponent(e.publication_number)}`,
    }));
    blob = await (await call("POST", "/shortlist/export", { json: { rows }, accept: "text/csv" })).blob();
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
      all.map((e) => {
        const category = h("select", { class: "shortlist-category", "aria-label": `Category of ${e.publication_number}`,
                                       dataset: { publicationNumber: e.publication_number } },
          Object.entries(CATEGORIES).map(([value, label]) => h("option", { value }, label)));
        category.value = e.category || "";
        category.addEventListener("change", () => annotate(e.publication_number, { category: category.value }));
        const note = h("input", { type: "text", class: "shortlist-note", value: e.note || "", placeholder: "note",
                                  "aria-label": `Note on ${e.publication_number}`, maxlength: "2000",
                                  dataset: { publicationNumber: e.publication_number } });
        note.addEventListener("input", () => annotate(e.publication_number, { note: note.value }));
        return h("li", {}, h("a", { href: `/ui/patents/${encodeURIComponent(e.publication_number)}`,
                                    title: e.title }, e.publication_number), " ", category, " ", note);
      })),
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
