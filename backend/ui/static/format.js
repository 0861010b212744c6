// Display helpers shared by the results grid and the patent view.

export function list(value) {
  if (!value) return [];
  return Array.isArray(value) ? value.filter(Boolean) : [value];
}

export function figureLabel(hit) {
  if (hit.figure_number === 0 && hit.has_image === false) return "Text"; // a patent without figures
  return hit.figure_number != null ? `FIG. ${hit.figure_number}` : hit.figure_id || "figure";
}

export function thumbnailUrl(fig) {
  return fig.thumbnail_url || (fig.figure_id ? `/figures/${encodeURIComponent(fig.figure_id)}/thumbnail` : "");
}

export function imageUrl(fig) {
  return fig.image_url || (fig.figure_id ? `/figures/${encodeURIComponent(fig.figure_id)}/image` : "");
}

export function patentHref(publicationNumber) {
  return `/ui/patents/${encodeURIComponent(publicationNumber)}`;
}

/** "Locarno 06-01 · CPC A47C7/00, A47C4/28" */
export function classificationText(doc) {
  const parts = [];
  const locarno = list(doc.locarno);
  const cpc = list(doc.cpc);
  const ipc = list(doc.ipc);
  if (locarno.length) parts.push(`Locarno ${locarno.join(", ")}`);
  if (cpc.length) parts.push(`CPC ${cpc.slice(0, 4).join(", ")}${cpc.length > 4 ? ` +${cpc.length - 4}` : ""}`);
  if (ipc.length && !cpc.length) parts.push(`IPC ${ipc.slice(0, 3).join(", ")}`);
  return parts.join(" · ");
}

export function dateText(doc) {
  if (doc.publication_date) return `published ${doc.publication_date}`;
  if (doc.filing_date) return `filed ${doc.filing_date}`;
  return "";
}

/** 7.1, 12.3, 0.031 — two significant digits below 10, one decimal above. */
export function shortNumber(x) {
  const n = Number(x);
  if (!Number.isFinite(n)) return String(x);
  if (Math.abs(n) >= 10 || n === 0) return n.toFixed(1);
  return Math.abs(n) < 0.001 ? n.toExponential(1) : String(Number(n.toPrecision(2)));
}

const pct = (x) => `${Math.round(Math.max(0, Math.min(1, x)) * 100)}%`;

/**
 * Why a hit is here, from its `explain`: {label, detail, textShare, imageShare}.
 * text_share/image_share say how much of the fused score came from the text and the drawing.
 */
const FIELD_NAMES = { title: "title", abstract: "abstract", claims: "claims", description: "description",
                      captions: "figure captions" };

export function reason(explain, score) {
  if (!explain) {
    return { label: score != null ? `Score ${Number(score).toFixed(3)}` : "", detail: "", textShare: null, imageShare: null };
  }
  let textShare = explain.text_share;
  let imageShare = explain.image_share;
  if (textShare == null && imageShare == null) {
    textShare = explain.bm25 ? 1 : 0;
    imageShare = explain.vector ? 1 : 0;
    const sum = textShare + imageShare;
    if (sum) { textShare /= sum; imageShare /= sum; }
  }
  textShare = Number(textShare || 0);
  imageShare = Number(imageShare || 0);
  const bm25 = explain.bm25;
  const dense = explain.dense;
  const vector = explain.vector;
  const words = (explain.matched_words || []).slice(0, 6);
  const fields = (explain.matched_fields || []).map((f) => FIELD_NAMES[f] || f);
  let label;
  if (imageShare < 0.02 && textShare > 0) label = bm25 ? "Matched on text" : "Similar in meaning";
  else if (textShare < 0.02 && imageShare > 0) label = "Matched on drawing";
  else label = `Text ${pct(textShare)} · drawing ${pct(imageShare)}`;
  const details = [];
  if (bm25) {
    details.push(words.length ? `words ${words.map((w) => `“${w}”`).join(", ")}${fields.length ? ` in the ${fields.join(", ")}` : ""}`
                              : "the query's words are in its text");
  } else if (dense) {
    details.push("found by meaning: none of the query's words are in its text");
  }
  if (vector && vector.similarity != null) {
    details.push(`drawing ${pct(vector.similarity)} similar`);
    // class consensus (docs/search.md): the share of the query's nearest drawings in this figure's class
    if (vector.class_consensus != null && vector.consensus_class) {
      const [scheme, code] = String(vector.consensus_class).split(/:(.*)/s);
      const name = scheme === "locarno" ? "Locarno" : scheme === "subclass" ? "CPC/IPC" : scheme.toUpperCase();
      details.push(`re-ranked by class: ${pct(vector.class_consensus)} of the most similar drawings are ${name} ${code}`);
    }
    if (vector.reason) details.push(vector.reason);   // why the consensus moved it ("ranked up 2: ...")
  }
  if (Array.isArray(explain.views)) {   // a multi-view query: which figure matched each view
    const matched = explain.views.filter((v) => v.figure_id);
    if (matched.length) details.push(matched.map((v) => `view ${v.view} ↔ ${v.figure_id}`).join(", "));
  }
  const check = explain.verification;   // geometric verification against the query drawing (docs/search.md)
  if (check && check.score != null) {
    const verified = check.score >= 0.5;
    if (verified) label = "Same drawing (verified)";
    // the geometric check: do the query's lines land on the hit's (not a percentage of "match")
    if (verified) details.push(`the same shapes: ${check.inliers} points line up with the query drawing`);
    else if (check.score > 0) details.push(`some shapes line up with the query drawing (${pct(check.score)})`);
  }
  return { label, detail: details.join(" · "), textShare, imageShare };
}
