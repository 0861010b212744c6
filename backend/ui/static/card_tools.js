// Tools added to each result card after it is drawn: "Compare" (the card's best figure beside the query
// drawing) and the shortlist toggle. Kept apart from results.js, which draws the cards themselves.

import { h } from "./dom.js";
import { bestFigureOf, hitFor } from "./hits.js";
import { toggleButton } from "./shortlist.js";

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
  }
}
