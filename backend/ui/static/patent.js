// The patent view: bibliographic data, abstract and claims, and every figure with its description
// and a "More like this" button.

import { loadImage } from "./api.js";
import { h } from "./dom.js";
import { figureLabel, list, thumbnailUrl } from "./format.js";
import { sheetLocator } from "./results.js";
import { toggleButton } from "./shortlist.js";
import { loadUpright } from "./upright.js";
import { renditionUrl } from "./viewer.js";

/** GET /patents/<id> answers with the patent and its figures; accept the likely shapes. */
export function normalisePatent(data) {
  const patent = data?.patent ? { ...data.patent, figures: data.figures || data.patent.figures } : { ...data };
  let figures = patent.figures || data?.hits || [];
  figures = [...figures].sort((a, b) => (a.figure_number ?? 0) - (b.figure_number ?? 0));
  const first = figures[0] || {};
  for (const key of ["title", "abstract", "claims", "kind", "country", "applicants", "cpc", "ipc", "locarno",
                     "filing_date", "publication_date", "priority_date", "publication_number"]) {
    if (patent[key] == null || (Array.isArray(patent[key]) && !patent[key].length)) {
      if (first[key] != null) patent[key] = first[key];
    }
  }
  patent.figures = figures;
  return patent;
}

/** "FIG. 3 is a top plan view" → "is a top plan view" (the label is shown in bold beside it). */
function withoutLabel(description) {
  return description.replace(/^\s*FIG(?:URE)?\.?\s*\d+[A-Z]?\s*/i, "");
}

function dl(rows) {
  return h("dl", { class: "bib-list" },
    rows.filter(([, v]) => v && (!Array.isArray(v) || v.length)).map(([k, v]) => [
      h("dt", {}, k),
      h("dd", {}, Array.isArray(v) ? v.join("; ") : v),
    ]));
}

/** The other publications of the patent's family (GET /patents/<id> -> family_members), as links. */
function familySection(members) {
  if (!members || !members.length) return null;
  return h("section", { class: "text-block family", "aria-labelledby": "family-heading" },
    h("h2", { id: "family-heading" }, `Family (${members.length} other publication${members.length > 1 ? "s" : ""})`),
    h("ul", {}, members.map((m) => h("li", {},
      h("a", { href: `/ui/patents/${encodeURIComponent(m.publication_number)}` }, m.publication_number),
      m.title ? ` ${m.title}` : "", m.publication_date ? ` (${m.publication_date})` : ""))));
}

/** Mark the figures the search matched (`matched`: figure ids, best first) and scroll to the best one. */
export function markMatched(container, matched = []) {
  const found = matched.map((id) => container.querySelector(`.patent-figure[data-figure-id="${CSS.escape(id)}"]`))
    .filter(Boolean);
  found.forEach((el, i) => {
    el.classList.add("matched");
    el.dataset.matchRank = String(i + 1);
    el.querySelector("figcaption")?.prepend(h("span", { class: "match-badge" }, i === 0 ? "Best match" : "Matched"));
  });
  const status = container.querySelector("#figures-heading");
  if (status && found.length) status.append(h("span", { class: "match-count" }, ` · ${found.length} matched the search`));
  if (found.length) found[0].scrollIntoView({ block: "center" });
  return found.length;
}

const figureAnchor = (fig) => `fig-${fig.figure_id}`;

/** The publication at its office's public site (GET /patents -> source_url; none for a number that does not
 *  parse as a publication number). Opens in a new tab, without this page as referrer. */
function sourceLink(patent) {
  const url = patent.source_url;
  if (!url || !/^https:\/\//.test(url)) return null;
  const site = new URL(url).hostname.replace(/^(www|worldwide)\./, "").replace(/\.(com|org)$/, "");
  const name = { "patents.google": "Google Patents", espacenet: "Espacenet" }[site] || new URL(url).hostname;
  return h("a", { href: url, class: "source-link", id: "patent-source", target: "_blank", rel: "noopener noreferrer",
                  title: `The original publication at ${name} (opens a new tab)` }, `Original document (${name}) ↗`);
}

/** A strip of every figure's thumbnail under the heading: one click scrolls to the figure (57 figures
 *  are one glance, not a long scroll). */
function filmstrip(figures, number) {
  if (figures.length < 2) return null;
  return h("nav", { class: "filmstrip", id: "filmstrip", "aria-label": "Figures of this patent" },
    h("ol", {}, figures.map((fig) => {
      const hit = { ...fig, publication_number: fig.publication_number || number };
      let picture = h("span", { class: "filmstrip-text" }, "no drawing");
      if (fig.has_image !== false) {
        picture = h("img", { alt: "", decoding: "async" });
        loadUpright(picture, fig.figure_id, thumbnailUrl(hit));
      }
      return h("li", {}, h("a", {
        href: `#${figureAnchor(fig)}`, class: "filmstrip-item", dataset: { figureId: fig.figure_id },
        "aria-label": `Go to ${figureLabel(hit)}`,
        onclick: (e) => {
          e.preventDefault();
          const target = document.getElementById(figureAnchor(fig));
          target?.scrollIntoView({ block: "center" });
          target?.querySelector("button")?.focus({ preventScroll: true });
        } }, picture, h("span", { class: "filmstrip-label" }, figureLabel(hit))));
    })));
}

export function renderPatent(container, data, { onMoreLikeThis, onZoom, onCompare = null }) {
  const patent = normalisePatent(data);
  const number = patent.publication_number || "";
  const best = patent.figures.find((f) => f.has_image !== false);
  const asHit = (fig) => ({ ...fig, publication_number: fig.publication_number || number, title: patent.title });
  const shortlist = toggleButton({ ...(best ? asHit(best) : {}), publication_number: number, title: patent.title,
                                   kind: patent.kind, country: patent.country,
                                   publication_date: patent.publication_date, applicants: patent.applicants });
  const parts = [
    h("header", { class: "patent-head" },
      h("p", { class: "patent-number" }, [number, patent.kind].filter(Boolean).join(" "), sourceLink(patent)),
      h("h1", { id: "patent-title" }, patent.title || number),
      h("div", { class: "patent-actions" }, shortlist,
        onCompare && best ? h("button", { type: "button", class: "btn btn-small", id: "patent-compare",
                                          onclick: () => onCompare(asHit(best), patent.figures.map(asHit)) },
                              "⇆ Compare with the query drawing") : null)),
    filmstrip(patent.figures, number),
    dl([
      ["Publication date", patent.publication_date],
      ["Filing date", patent.filing_date],
      ["Priority date", patent.priority_date],
      ["Country", patent.country],
      ["Applicants", list(patent.applicants)],
      ["Locarno", list(patent.locarno)],
      ["CPC", list(patent.cpc)],
      ["IPC", list(patent.ipc)],
    ]),
    familySection(patent.family_members),
    patent.abstract ? h("section", { class: "text-block" }, h("h2", {}, "Abstract"), h("p", {}, patent.abstract)) : null,
    patent.claims ? h("section", { class: "text-block" }, h("h2", {}, "Claims"), h("p", { class: "claims" }, patent.claims)) : null,
    h("section", { "aria-labelledby": "figures-heading" },
      h("h2", { id: "figures-heading" }, `Figures (${patent.figures.length})`),
      patent.figures.length
        ? h("div", { class: "figure-grid" }, patent.figures.map((fig) => {
          const hit = { ...fig, publication_number: fig.publication_number || number };
          let picture;
          if (fig.has_image === false) {   // described, but no drawing was delivered
            picture = h("div", { class: "text-only" }, "Drawing not available");
          } else {
            // the rendition, not the stored thumbnail: a sheet printed sideways comes upright
            const img = h("img", { alt: `${number} ${figureLabel(hit)}`, loading: "lazy", decoding: "async" });
            loadImage(img, renditionUrl(fig.figure_id, 400));
            picture = h("button", { type: "button", class: "thumb-button", "aria-label": `Enlarge ${figureLabel(hit)}`,
                                    onclick: () => onZoom(hit) }, img, sheetLocator(fig));
          }
          return h("figure", { class: "patent-figure", id: figureAnchor(fig), dataset: { figureId: fig.figure_id } },
            picture,
            h("figcaption", {},
              h("p", { class: "fig-line" }, h("strong", {}, figureLabel(hit)), " ",
                h("span", { class: "fig-desc" }, withoutLabel(fig.description || ""))),
              h("div", {}, h("button", { type: "button", class: "btn btn-small mlt",
                                         "aria-label": `More like ${figureLabel(hit)}`,
                                         onclick: () => onMoreLikeThis(hit) }, "More like this"))));
        }))
        : h("p", { class: "empty" }, "This patent has no indexed figures.")),
  ];
  container.replaceChildren(...parts.filter(Boolean));
  shortlist.paint?.();
  return patent;
}
