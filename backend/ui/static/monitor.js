// The "Watches and alerts" view: the caller's alerts (newest first, unread marked, mark read) and
// watches (schedule, last run; run now, edit, pause/resume, delete). Data from GET /alerts and GET /watches;
// text only, no markup.

import { loadImage } from "./api.js";
import { h } from "./dom.js";
import { patentHref } from "./format.js";
import { watchSearchHref } from "./url_state.js";

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
    const figureId = alert.reason?.figure_id;
    let thumb = null;
    if (figureId) {
      thumb = h("img", { class: "alert-thumb", alt: `Drawing ${figureId}`, decoding: "async" });
      loadImage(thumb, `/figures/${encodeURIComponent(figureId)}/thumbnail`);
    }
    return h("li", { class: `monitor-item alert-item${alert.read ? "" : " unread"}`, dataset: { alertId: alert.id } },
      thumb,
      h("div", { class: "monitor-main" },
        alert.read ? null : h("span", { class: "badge", "aria-label": "unread" }, "new"),
        h("a", { href: patentHref(alert.publication_number), class: "alert-patent" }, alert.publication_number),
        title ? h("span", { class: "monitor-title" }, ` ${title}`) : null),
      h("div", { class: "monitor-meta" },
        `watch “${alert.watch_name || alert.watch_id}” · ${when(alert.created_at)}`,
        alert.rank ? ` · rank ${alert.rank}` : "",
        alert.score != null ? ` · score ${Number(alert.score).toFixed(3)}` : "",
        alert.reason?.origin === "ingest" ? " · found at ingest" : ""),
      button);
  })));
}

/** The inline editor of a watch: query text, schedule, webhook. ``onSave(changes, form)`` sends a PATCH. */
function editForm(watch, onSave, onCancel) {
  const id = `watch-${watch.id}`;
  const schedule = h("select", { id: `${id}-schedule`, name: "schedule" },
    Object.entries(SCHEDULES).map(([s, label]) => h("option", { value: s }, label)));
  if (!SCHEDULES[watch.schedule_s]) schedule.append(h("option", { value: watch.schedule_s }, scheduleText(watch.schedule_s)));
  schedule.value = String(watch.schedule_s);
  const text = h("input", { id: `${id}-text`, name: "text", type: "text", value: watch.query?.text || "" });
  const webhook = h("input", { id: `${id}-webhook`, name: "webhook", type: "url", value: watch.webhook_url || "",
                               placeholder: "an https URL (empty: no webhook)" });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const form = h("form", { class: "watch-edit", "aria-label": `Edit the watch ${watch.name}` },
    h("label", { for: text.id }, "Query text"), text,
    h("label", { for: schedule.id }, "Schedule"), schedule,
    h("label", { for: webhook.id }, "Webhook URL"), webhook,
    error,
    h("div", { class: "watch-edit-actions" },
      h("button", { type: "submit", class: "btn btn-small btn-primary" }, "Save changes"),
      h("button", { type: "button", class: "btn btn-small btn-ghost", onclick: onCancel }, "Cancel")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = { ...(watch.query || {}) };
    const words = text.value.trim();
    if (words) query.text = words; else delete query.text;
    const changes = { query, schedule_s: Number(schedule.value), webhook_url: webhook.value.trim() || null };
    onSave(changes, error);
  });
  return form;
}

/** Watches as a list; ``onDelete(watch, button)`` deletes one, ``onRun(watch, button)`` runs it now,
 *  ``onUpdate(watch, changes, errorEl)`` saves an edit or a pause/resume. */
export function renderWatches(container, watches, { onDelete, onRun = null, onUpdate = null }) {
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
    const item = h("li", { class: `monitor-item${watch.active ? "" : " paused"}`, dataset: { watchId: watch.id } },
      h("div", { class: "monitor-main" }, h("strong", {}, watch.name), ` — ${querySummary(watch.query)}`),
      h("div", { class: "monitor-meta" },
        `${scheduleText(watch.schedule_s)} · next ${when(watch.next_run_at)}`,
        run ? ` · last run ${run.status}${run.alerts_created ? `, ${run.alerts_created} new` : ""}` : " · not run yet",
        watch.webhook_url ? " · webhook" : "", watch.active ? "" : " · paused"),
      watch.shortlist?.length ? h("div", { class: "monitor-meta watch-shortlist" }, "Shortlist: ",
        watch.shortlist.map((n, i) => [i ? ", " : "", h("a", { href: `/ui/patents/${encodeURIComponent(n)}` }, n)])) : null);
    const actions = h("div", { class: "watch-actions" },
      h("a", { href: watchSearchHref(watch), class: "btn btn-small watch-open",
               "aria-label": `Open the watch ${watch.name} as a search` }, "Open as search"));
    if (onRun) {
      const runButton = h("button", { type: "button", class: "btn btn-small watch-run",
                                      "aria-label": `Run the watch ${watch.name} now` }, "Run now");
      runButton.addEventListener("click", () => onRun(watch, runButton));
      actions.append(runButton);
    }
    if (onUpdate) {
      const pause = h("button", { type: "button", class: "btn btn-small watch-pause",
                                  "aria-label": `${watch.active ? "Pause" : "Resume"} the watch ${watch.name}` },
                      watch.active ? "Pause" : "Resume");
      pause.addEventListener("click", () => { pause.disabled = true; onUpdate(watch, { active: !watch.active }, null); });
      const edit = h("button", { type: "button", class: "btn btn-small watch-edit-button",
                                 "aria-label": `Edit the watch ${watch.name}` }, "Edit");
      edit.addEventListener("click", () => {
        const form = editForm(watch, (changes, error) => onUpdate(watch, changes, error),
                              () => { form.remove(); edit.hidden = false; edit.focus(); });
        edit.hidden = true;
        item.append(form);
        form.querySelector("input")?.focus();
      });
      actions.append(pause, edit);
    }
    actions.append(button);
    item.append(actions);
    return item;
  })));
}
