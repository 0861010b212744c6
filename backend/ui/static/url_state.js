// A search as a URL: the search page's address carries what was asked (text, the drawing, filters, ranking,
// how many pages are on screen), so reload, Back/Forward, a bookmark or a link sent to a colleague bring
// the same search back. Pure functions: state <-> URLSearchParams.
//
//   q       text                         fig     "more like this" figure id
//   upload  an uploaded drawing's id     watch   a watch whose stored drawing (vector) is the query
//   cls     scheme:symbol (repeated)     xcls    excluded scheme:symbol (repeated)
//   date    publication|filing|priority  from, to  yyyy-mm-dd
//   app     applicants ("a; b")          cc      countries     kind   kinds
//   wt, wi  text / drawing weight        fusion  rrf|weighted  group  0 = one tile per figure
//   size    page size                    page    pages on screen (Load more)
//   xp, xf  excluded patents / families (repeated)
//   edit    the watch this search was opened from (saving can update it)
// An uploaded drawing stays in the browser that uploaded it (upload_store.js): the link names it, and
// another browser is told to upload it again.

const DEFAULTS = { dateType: "publication", weightText: "1", weightImage: "1", fusion: "rrf", groupByPatent: true,
                   size: "20" };
const SCHEME_NAMES = ["cpc", "locarno", "ipc"];

/** The URL query string ("?q=shoe&cls=locarno:02-04") of a search state; "" when nothing is asked. */
export function toSearchString(state, { pages = 1 } = {}) {
  const p = new URLSearchParams();
  const add = (key, value) => { if (value !== undefined && value !== null && String(value).trim() !== "") p.append(key, value); };
  add("q", (state.text || "").trim());
  if (state.uploadId) add("upload", state.uploadId);
  else if (state.watchId) add("watch", state.watchId);
  else add("fig", state.imageFigureId);
  for (const chip of state.classifications || []) {
    p.append(chip.mode === "exclude" ? "xcls" : "cls", `${chip.scheme}:${chip.symbol}`);
  }
  if (state.dateFrom || state.dateTo) {
    if (state.dateType && state.dateType !== DEFAULTS.dateType) add("date", state.dateType);
    add("from", state.dateFrom);
    add("to", state.dateTo);
  }
  add("app", state.applicants);
  add("cc", state.countries);
  add("kind", state.kinds);
  if (String(state.weightText) !== DEFAULTS.weightText && state.weightText !== undefined) add("wt", Number(state.weightText));
  if (String(state.weightImage) !== DEFAULTS.weightImage && state.weightImage !== undefined) add("wi", Number(state.weightImage));
  if (state.fusion && state.fusion !== DEFAULTS.fusion) add("fusion", state.fusion);
  if (state.groupByPatent === false) add("group", "0");
  if (state.size && String(state.size) !== DEFAULTS.size) add("size", state.size);
  for (const value of state.excludePatents || []) add("xp", value);
  for (const value of state.excludeFamilies || []) add("xf", value);
  if (p.toString() && pages > 1) add("page", pages);
  if (p.toString() && state.editWatch?.id != null) add("edit", state.editWatch.id);
  const text = p.toString();
  return text ? `?${text}` : "";
}

function chipFrom(value, mode) {
  const at = value.indexOf(":");
  const scheme = at > 0 ? value.slice(0, at).toLowerCase() : "";
  const symbol = at > 0 ? value.slice(at + 1).trim() : "";
  return SCHEME_NAMES.includes(scheme) && symbol ? { scheme, symbol, mode } : null;
}

/** The search state a URL query string asks for (the keys of app.js's state), and the pages to load;
 *  null when it asks for no search. */
export function fromSearchString(search) {
  const p = new URLSearchParams(search || "");
  const state = {
    text: p.get("q") || "", imageFigureId: p.get("fig") || null, uploadId: p.get("upload") || null,
    watchId: p.get("watch") || null,
    classifications: [...p.getAll("cls").map((v) => chipFrom(v, "include")),
                      ...p.getAll("xcls").map((v) => chipFrom(v, "exclude"))].filter(Boolean),
    dateType: ["publication", "filing", "priority"].includes(p.get("date")) ? p.get("date") : DEFAULTS.dateType,
    dateFrom: p.get("from") || "", dateTo: p.get("to") || "",
    applicants: p.get("app") || "", countries: p.get("cc") || "", kinds: p.get("kind") || "",
    weightText: p.get("wt") ?? DEFAULTS.weightText, weightImage: p.get("wi") ?? DEFAULTS.weightImage,
    fusion: p.get("fusion") === "weighted" ? "weighted" : DEFAULTS.fusion,
    groupByPatent: p.get("group") !== "0",
    size: ["10", "20", "50", "100"].includes(p.get("size")) ? p.get("size") : DEFAULTS.size,
    excludePatents: p.getAll("xp"), excludeFamilies: p.getAll("xf"),
    editWatchId: p.get("edit") || null,
  };
  if (!state.text.trim() && !state.imageFigureId && !state.uploadId && !state.watchId) return null;
  const pages = Math.max(1, Math.min(50, parseInt(p.get("page") || "1", 10) || 1));
  return { state, pages };
}

/** A watch's stored query (a search request body) as the search page's URL ("/?q=…"). */
export function watchSearchHref(watch) {
  const query = watch.query || {};
  const filters = query.filters || {};
  const classifications = [];
  for (const scheme of SCHEME_NAMES) {
    for (const symbol of filters[scheme]?.include || []) classifications.push({ scheme, symbol, mode: "include" });
    for (const symbol of filters[scheme]?.exclude || []) classifications.push({ scheme, symbol, mode: "exclude" });
  }
  const [dateType, range] = Object.entries(filters.dates || {})[0] || ["publication", {}];
  const state = {
    text: query.text || "", imageFigureId: query.image_figure_id || null,
    watchId: query.vector ? String(watch.id) : null, classifications,
    dateType, dateFrom: range.gte || "", dateTo: range.lte || "",
    applicants: (filters.applicants || []).join("; "), countries: (filters.countries || []).join(", "),
    kinds: (filters.kinds || []).join(", "),
    weightText: query.weights?.text ?? 1, weightImage: query.weights?.image ?? 1, fusion: query.fusion || "rrf",
    excludePatents: query.exclude_patents || [], excludeFamilies: query.exclude_families || [],
  };
  return `/${toSearchString({ ...state, editWatch: { id: watch.id } })}`;
}
