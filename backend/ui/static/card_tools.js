// Tools added to each result card after it is drawn: "Compare" (the card's best figure beside the query
// drawing) and the shortlist toggle; on high-density screens the drawings at 400 px instead of the 256 px
// thumbnails. Kept apart from results.js, which draws the cards themselves.

import { loadImage } from "./api.js";
import { h } from "./dom.js";
import { bestFigureOf, hitFor } from "./hits.js";
import { toggleButton } from "./shortlist.js";
import { renditionUrl } from "./viewer.js";

/** A card drawing is about 170 px high: past 1.5 device pixels per CSS pixel a thumbnail would be enlarged. */
const SHARP_CARDS = (window.devicePixelRatio || 1) > 1.5;

/** Add the tools to the cards of `container` that lack them. */
export function decorateCards(container, { onCompare }) {
  for (const card of container.querySelectorAll("article[data-publication-number]")) {
    if (card.querySelector(".card-tools")) continue;
    const best = bestFigureOf(card);
    const any = best || hitFor(card.querySelector("[data-figure-id]")?.dataset.figureId)
      || { publication_number: card.dataset.publicationNumber };
    const number = card.dataset.publicationNumber;
    const tools = h("div", { class: "card-tools" },
      best ? h("button", { type: "button", class: "btn btn-small compare-button",
                           "aria-label": `Compare ${number} with the query drawing (c)`,
                           onclick: () => onCompare(best) }, "⇆ Compare") : null,
      toggleButton({ ...any, publication_number: number }));
    (card.querySelector(".card-body") || card).append(tools);
    tools.querySelector(".shortlist-toggle").paint();
    if (SHARP_CARDS) {
      for (const figure of card.querySelectorAll("figure.thumb[data-figure-id]:not(.thumb-text)")) {
        const img = figure.querySelector("img");
        if (img) loadImage(img, renditionUrl(figure.dataset.figureId, 400));
      }
    }
  }
}
