// Turn what the user entered into a search request (docs/contracts.md, "Search request").
// Pure functions: no DOM, so the rules are easy to read and to test.

export const SCHEMES = { cpc: "CPC", locarno: "Locarno", ipc: "IPC" };
export const DATE_TYPES = { publication: "publication", filing: "filing", priority: "priority" };

/** "US, ep;DE" → ["US", "EP", "DE"] */
export function splitList(text, { upper = false, separators = /[,;]/ } = {}) {
  return (text || "")
    .split(separators)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => (upper ? s.toUpperCase() : s));
}

/** A problem with the form, in words for the user, or "" when the request can be sent. */
export function validate(state) {
  if (!state.text.trim() && !state.imageFile && !state.imageFigureId && !state.vector) {
    return "Type a description or add a drawing to search.";
  }
  if (state.dateFrom && state.dateTo && state.dateFrom > state.dateTo) {
    return `The date range is reversed: "from" (${state.dateFrom}) is after "to" (${state.dateTo}).`;
  }
  return "";
}

function classificationFilters(chips) {
  const filters = {};
  for (const chip of chips) {
    const entry = (filters[chip.scheme] ||= { include: [], exclude: [] });
    const list = entry[chip.mode === "exclude" ? "exclude" : "include"];
    if (!list.includes(chip.symbol)) list.push(chip.symbol);
  }
  return filters;
}

/** The JSON body for POST /search (and /search/export; and a watch's query). */
export function buildRequest(state, { cursor = null } = {}) {
  const filters = classificationFilters(state.classifications);
  if (state.dateFrom || state.dateTo) {
    const range = {};
    if (state.dateFrom) range.gte = state.dateFrom;
    if (state.dateTo) range.lte = state.dateTo;
    filters.dates = { [state.dateType || "publication"]: range };
  }
  const applicants = splitList(state.applicants, { separators: /;/ });
  const countries = splitList(state.countries, { upper: true });
  const kinds = splitList(state.kinds, { upper: true });
  if (applicants.length) filters.applicants = applicants;
  if (countries.length) filters.countries = countries;
  if (kinds.length) filters.kinds = kinds;

  const body = {};
  const text = state.text.trim();
  if (text) body.text = text;
  if (state.imageFigureId && !state.imageFile) body.image_figure_id = state.imageFigureId;
  else if (state.vector && !state.imageFile) body.vector = state.vector;   // a watch's stored drawing
  body.weights = { text: Number(state.weightText), image: Number(state.weightImage) };
  body.fusion = state.fusion || "rrf";
  body.filters = filters;
  body.group_by_patent = Boolean(state.groupByPatent);
  body.size = Number(state.size) || 20;
  body.cursor = cursor;
  body.facets = true;
  body.explain = true;
  // a part of the one query drawing (part_box.js); several views are searched whole
  if (state.crop && (state.imageFile || state.imageFigureId) && !state.extraViews?.length) body.crop = { ...state.crop };
  if (state.excludePatents?.length) body.exclude_patents = [...state.excludePatents];
  if (state.excludeFamilies?.length) body.exclude_families = [...state.excludeFamilies];
  return body;
}

/** The query stored with a watch. A watch cannot store an uploaded file: the page first turns the
 *  drawing into its query vector (POST /search/embed) and passes it here as `vector`; until then the
 *  answer says `needsVector`. */
export function watchQuery(state, vector = null) {
  const body = buildRequest(state);
  for (const key of ["cursor", "size", "facets", "explain", "group_by_patent"]) delete body[key];
  if (state.imageFile) {
    if (!vector) return { query: body, needsVector: true };
    body.vector = vector;
  }
  return { query: body, needsVector: false };
}

/** A short default name for a watch, from the query. */
export function defaultWatchName(state) {
  const parts = [];
  if (state.text.trim()) parts.push(state.text.trim().slice(0, 60));
  if (state.imageFigureId && !state.imageFile) parts.push(`like ${state.imageFigureId}`);
  for (const chip of state.classifications) parts.push(`${chip.mode === "exclude" ? "not " : ""}${chip.symbol}`);
  return parts.join(" · ") || "My search";
}
