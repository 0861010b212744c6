// Working from the keyboard on the results: j/k or ↓/↑ move between hits, Enter opens, c compares, x toggles
// the shortlist, ? lists the keys. Never while typing in a field, and never with Ctrl, Alt or Cmd held.

import { h } from "./dom.js";
import { bestFigureOf, cards, hitFor } from "./hits.js";

export const KEYS = [
  ["j  or  ↓", "next hit"],
  ["k  or  ↑", "previous hit"],
  ["Enter", "open the hit's patent"],
  ["c", "compare the hit with the query drawing"],
  ["x", "add the hit to the shortlist, or remove it"],
  ["/", "go to the search box"],
  ["?", "show these keys"],
  ["In the compare view", "← → or j k other hit · + − 0 zoom · r rotate · f flip · o overlay · b blink · s sync"],
  ["In the figure dialog", "← → previous or next figure · + − 0 zoom · r rotate · f flip"],
  ["Esc", "close a dialog"],
];

let current = null;   // the card the keys act on

export function isTyping(el = document.activeElement) {
  if (!el) return false;
  if (el.isContentEditable) return true;
  if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
  // sliders and radio buttons take the arrow keys themselves; a checkbox or a button takes none of ours
  return el.tagName === "INPUT" && !["checkbox", "button", "submit", "reset"].includes(el.type);
}

function keysDialog() {
  let dialog = document.getElementById("keys-dialog");
  if (dialog) return dialog;
  dialog = h("dialog", { id: "keys-dialog", class: "keys-dialog", "aria-labelledby": "keys-title" },
    h("h2", { id: "keys-title" }, "Keyboard shortcuts"),
    h("table", { class: "keys-table" }, h("tbody", {},
      KEYS.map(([key, what]) => h("tr", {}, h("th", { scope: "row" }, h("kbd", {}, key)), h("td", {}, what))))),
    h("div", { class: "dialog-actions" },
      h("button", { type: "button", class: "btn", id: "keys-close", onclick: () => dialog.close() }, "Close")));
  document.body.append(dialog);
  return dialog;
}

export function showKeys() {
  const dialog = keysDialog();
  if (!dialog.open) dialog.showModal();
  dialog.querySelector("#keys-close").focus();
}

function setCurrent(card, { focus = true } = {}) {
  for (const el of document.querySelectorAll("#results article[data-current]")) delete el.dataset.current;
  current = card;
  if (!card) return;
  card.dataset.current = "true";
  if (focus) {
    const target = card.querySelector(".card-title a, a[href]") || card;
    if (target === card) card.tabIndex = -1;
    target.focus();
    card.scrollIntoView({ block: "nearest" });
  }
}

/** The card the keys act on: the one holding the focus, else the last one moved to. */
export function currentCard() {
  const focused = document.activeElement?.closest?.("#results article[data-publication-number]");
  if (focused) return focused;
  return current && document.contains(current) ? current : null;
}

function move(delta) {
  const all = cards();
  if (!all.length) return false;
  const at = all.indexOf(currentCard());
  const next = at < 0 ? (delta > 0 ? 0 : all.length - 1) : Math.max(0, Math.min(all.length - 1, at + delta));
  setCurrent(all[next]);
  return true;
}

/** The figure the keys act on: a focused figure of the card, else the card's best figure. */
function figureOf(card) {
  const focused = document.activeElement?.closest?.("[data-figure-id]");
  const hit = focused && card.contains(focused) ? hitFor(focused.dataset.figureId) : null;
  return hit && hit.has_image !== false ? hit : bestFigureOf(card);
}

/**
 * @param {object} actions  isSearchView(), onOpen(publicationNumber), onCompare(hit), onShortlist(hit or
 *                          {publication_number})
 */
export function initKeyboard({ isSearchView, onOpen, onCompare, onShortlist }) {
  document.getElementById("results")?.addEventListener("focusin", (e) => {
    const card = e.target.closest("article[data-publication-number]");
    if (card && card !== current) setCurrent(card, { focus: false });
  });
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || isTyping()) return;
    if (document.querySelector("dialog[open]")) return;   // a dialog has its own keys
    if (e.key === "?") { e.preventDefault(); showKeys(); return; }
    if (!isSearchView()) return;
    let handled = false;
    if (e.key === "j" || e.key === "ArrowDown") handled = move(1);
    else if (e.key === "k" || e.key === "ArrowUp") handled = move(-1);
    else {
      const card = currentCard();
      if (!card) return;
      const number = card.dataset.publicationNumber;
      if (e.key === "Enter") {
        // a focused link or button does its own thing (the title link opens the patent)
        if (/^(A|BUTTON|SUMMARY)$/.test(document.activeElement?.tagName)) return;
        onOpen(number);
        handled = true;
      } else if (e.key === "c") {
        const hit = figureOf(card);
        if (hit) { onCompare(hit); handled = true; }
      } else if (e.key === "x") {
        const hit = figureOf(card) || hitFor(card.querySelector("[data-figure-id]")?.dataset.figureId) || {};
        onShortlist({ ...hit, publication_number: number });
        handled = true;
      }
    }
    if (handled) e.preventDefault();
  });
}
