// The hits on screen, by figure id, in the order the page shows them: the compare view and the zoom dialog
// step through them, the keyboard moves between the cards. The DOM gives the order (whatever the layout of
// the results); the registry gives each figure's data (filled from the search answers and the patent view).

const byFigure = new Map();

/** Remember search hits or patent figures (objects with a figure_id). */
export function remember(hits, publicationNumber = null) {
  for (const hit of hits || []) {
    if (!hit?.figure_id) continue;
    byFigure.set(hit.figure_id, publicationNumber && !hit.publication_number
      ? { ...hit, publication_number: publicationNumber } : hit);
  }
}

export function hitFor(figureId) {
  return byFigure.get(figureId) || null;
}

/** Figures with a drawing inside `container`, in page order, one entry per figure. */
export function figuresIn(container) {
  if (!container) return [];
  const seen = new Set();
  const out = [];
  for (const el of container.querySelectorAll("[data-figure-id]")) {
    const id = el.dataset.figureId;
    const hit = byFigure.get(id);
    if (!id || seen.has(id) || !hit || hit.has_image === false || el.classList.contains("thumb-text")) continue;
    seen.add(id);
    out.push(hit);
  }
  return out;
}

/** The figures of the view on screen: the patent page's when it is shown, else the results'. */
export function visibleFigures() {
  const patentView = document.getElementById("patent-view");
  const onPatent = patentView && !patentView.hidden;
  return figuresIn(document.getElementById(onPatent ? "patent-body" : "results"));
}

/** The result cards (one per patent, or per figure in the ungrouped view), in page order. */
export function cards() {
  return [...document.querySelectorAll("#results article[data-publication-number]")];
}

/** The first figure with a drawing in a card (its best match). */
export function bestFigureOf(card) {
  return card ? figuresIn(card)[0] || null : null;
}
