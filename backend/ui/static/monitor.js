// The "Watches and alerts" view: the caller's alerts (newest first, unread marked, mark read) and
// watches (schedule, last run, delete). Data from GET /alerts and GET /watches; text only, no markup.

import { h } from "./dom.js";
import { patentHref } from "./format.js";

const SCHEDULES = { 3600: "hourly", 86400: "daily", 604800: "weekly" };

function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function scheduleText(seconds) {
  if (SCHEDULES[seconds]) return SCHEDULES[seconds];
  if (seconds % 86400 === 0) return `every ${seconds / 86400} days`;
  if (seconds % 3600 === 0) return `every ${seconds / 3600} hours`;
  return `every ${Math.round(seconds / 60)} minutes`;
}

/** What a watch looks for, in a few words: its text, its drawing, its filters. */
export function querySummary(query = {}) {
  const parts = [];
  if (query.text) parts.push(`“${query.text}”`);
  if (query.image_figure_id) parts.push(`like figure ${query.image_figure_id}`);
  else if (query.vector) parts.push("like an uploaded drawing");
  for (const [scheme, spec] of Object.entries(query.filters || {})) {
    if (spec && Array.isArray(spec.include) && spec.include.length) {
      parts.push(`${scheme.toUpperCase()} ${spec.include.join(", ")}`);
    }
  }
  return parts.join(" · ") || "any new filing";
}

/** Alerts as a list; ``onRead(alert, button)`` marks one read. */
export function renderAlerts(container, alerts, { onRead }) {
  if (!alerts.length) {
    container.replaceChildren(h("p", { class: "empty" }, "No alerts. New filings that match a watch appear here."));
    return;
  }
  container.replaceChildren(h("ul", { class: "monitor-list", id: "alerts-items" }, alerts.map((alert) => {
    const title = alert.reason?.title || "";
    const button = alert.read ? null : h("button", { type: "button", class: "btn btn-small", dataset: { alertId: alert.id },
      "aria-label": `Mark the alert for ${alert.publication_number} read` }, "Mark read");
    if (button) button.addEventListener("click", () => onRead(alert, button));
    return h("li", { class: `monitor-item${alert.read ? "" : " unread"}`, dataset: { alertId: alert.id } },
      h("div", { class: "monitor-main" },
        alert.read ? null : h("span", { class: "badge", "aria-label": "unread" }, "new"),
        h("a", { href: patentHref(alert.publication_number), class: "alert-patent" }, alert.publication_number),
        title ? h("span", { class: "monitor-title" }, ` ${title}`) : null),
      h("div", { class: "monitor-meta" },
        `watch “${alert.watch_name || alert.watch_id}” · ${when(alert.created_at)}`,
        alert.rank ? ` · rank ${alert.rank}` : "",
        alert.reason?.origin === "ingest" ? " · found at ingest" : ""),
      button);
  })));
}

/** Watches as a list; ``onDelete(watch, button)`` deletes one. */
export function renderWatches(container, watches, { onDelete }) {
  if (!watches.length) {
    container.replaceChildren(h("p", { class: "empty" },
      "No watches yet. Run a search, then choose “Save as watch”."));
    return;
  }
  container.replaceChildren(h("ul", { class: "monitor-list", id: "watches-items" }, watches.map((watch) => {
    const button = h("button", { type: "button", class: "btn btn-small btn-ghost", dataset: { watchId: watch.id },
      "aria-label": `Delete the watch ${watch.name}` }, "Delete");
    button.addEventListener("click", () => onDelete(watch, button));
    const run = watch.last_run;
    return h("li", { class: "monitor-item", dataset: { watchId: watch.id } },
      h("div", { class: "monitor-main" }, h("strong", {}, watch.name), ` — ${querySummary(watch.query)}`),
      h("div", { class: "monitor-meta" },
        `${scheduleText(watch.schedule_s)} · next ${when(watch.next_run_at)}`,
        run ? ` · last run ${run.status}${run.alerts_created ? `, ${run.alerts_created} new` : ""}` : " · not run yet",
        watch.webhook_url ? " · webhook" : "", watch.active ? "" : " · paused"),
      button);
  })));
}
