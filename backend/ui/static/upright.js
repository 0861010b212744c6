// Sideways sheets shown upright: a stored thumbnail is the sheet as scanned, a rendition is turned upright by
// the server. A thumbnail whose figure is known to be turned (api.js knownTurn: a rendition of it was seen)
// is swapped for the upright 400 px rendition - at once, or as soon as the turn becomes known.

import { TURN_EVENT, knownTurn, loadImage } from "./api.js";
import { renditionUrl } from "./viewer.js";

function swap(img, figureId, turn) {
  img.dataset.turn = String(turn);
  loadImage(img, renditionUrl(figureId, 400));
}

/** Load `img` with the figure's thumbnail, or its upright rendition when the figure is known to be turned. */
export function loadUpright(img, figureId, thumbnail) {
  img.dataset.uprightOf = figureId;
  const turn = knownTurn(figureId);
  if (turn) swap(img, figureId, turn);
  else loadImage(img, thumbnail);
}

document.addEventListener(TURN_EVENT, (e) => {
  const { figureId, turn } = e.detail;
  if (!turn) return;
  for (const img of document.querySelectorAll(`img[data-upright-of="${CSS.escape(figureId)}"]`)) {
    if (img.dataset.turn !== String(turn)) swap(img, figureId, turn);
  }
});
