// resque web's dashboard: routes #/... to a view, fetches that view's data from /api/* (see
// docs/web.md) and redraws it every refresh_seconds while the tab is visible.
//
// Every value from the API reaches the page through textContent, a text node or a DOM
// property, never as markup: class names, args, errors and queue names are written by whoever
// enqueued the job, and this page must not run them.
"use strict";

const PAGE = 20; // jobs and failures per page
const DELAYED_PAGE = 50; // due times per page (the API pages delayed jobs by due time)

const state = {
  session: null, // /api/session, fetched before the first view
  refreshMs: 2000,
  route: { view: "overview" },
  timer: null, // the next scheduled refresh
  busy: false, // a refresh is in flight; never start a second one beside it
  again: false, // refresh again as soon as the one in flight ends
  generation: 0, // bumped by every route change, so a late answer for the old route is dropped
  drawn: "", // route and data of the last draw: identical data is not redrawn
  queueStart: new Map(), // queue name -> first job shown
  failed: { start: 0, queue: "", klass: "", exception: "" },
  delayedStart: 0,
  openBacktraces: new Set(), // raw records whose backtrace is unfolded
  last: null, // the data of the current view's last draw, for the buttons outside it
};

// ---- DOM helpers -------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

// h("td", {className: "num"}, "12") builds an element. Props are set as DOM properties (or as
// attributes when the name has a dash, like aria-label); children that are not nodes become
// text nodes, so nothing passed here is ever parsed as HTML.
function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.includes("-")) node.setAttribute(key, String(value));
    else node[key] = value;
  }
  return append(node, children);
}

// Appends nodes as they are and anything else (strings, numbers) as a text node; skips
// null, undefined and false so optional parts can be written inline.
function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Replaces a node's children.
function fill(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

// A table from column titles and rows of cells; a cell is a value, a node, or
// {value, className}. Numeric columns are named in `numeric` so they align right.
function table(columns, rows, options = {}) {
  const numeric = new Set(options.numeric || []);
  const head = h("tr", null, columns.map((c, i) => h("th", { className: numeric.has(i) ? "num" : "" }, c)));
  const body = rows.map((cells) =>
    h("tr", null, cells.map((cell, i) => {
      const plain = cell === null || typeof cell !== "object" || cell instanceof Node;
      const td = h("td", { className: numeric.has(i) ? "num" : "" }, plain ? cell : cell.value);
      if (!plain && cell.className) td.classList.add(cell.className);
      if (!plain && cell.rowSpan) td.rowSpan = cell.rowSpan;
      return td;
    })));
  return h("table", { className: "grid", id: options.id },
    h("thead", null, head), h("tbody", null, body));
}

function empty(text) {
  return h("p", { className: "empty" }, text);
}

function pre(value, className) {
  return h("pre", { className: className || "args" }, JSON.stringify(value === undefined ? null : value, null, 2));
}

function badge(stateName) {
  return h("span", { className: `badge badge-${stateName}` }, stateName);
}

// ---- Formatting --------------------------------------------------------------------------

const DASH = "—";

function num(value) {
  return value === null || value === undefined ? DASH : Number(value).toLocaleString();
}

const pad = (n) => String(n).padStart(2, "0");

function clock(date = new Date()) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

// Unix seconds as local "YYYY-MM-DD HH:MM:SS". Resque's failed_at and retried_at are strings
// ("2026/12/01 10:00:00 UTC") written by whichever peer failed the job: those are shown as-is.
function when(value) {
  if (value === null || value === undefined || value === "") return DASH;
  if (typeof value !== "number") return String(value);
  const d = new Date(value * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(d)}`;
}

// Seconds as "4.2s", "3m 05s", "2h 10m", "3d 4h".
function age(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return DASH;
  const s = Math.max(0, Number(seconds));
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.floor(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(Math.floor(s % 60))}s`;
  const hours = Math.floor(m / 60);
  if (hours < 24) return `${hours}h ${pad(m % 60)}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

// A due time relative to now: "in 3m 05s" or "12s ago".
function relative(unix) {
  if (typeof unix !== "number") return "";
  const delta = unix - Date.now() / 1000;
  return delta >= 0 ? `in ${age(delta)}` : `${age(-delta)} ago`;
}

// ---- API ---------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status; // 0 when the server could not be reached at all
  }
}

// Fetches JSON; a non-2xx answer throws ApiError carrying the body's "error" message.
async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { credentials: "same-origin", ...options });
  } catch (error) {
    throw new ApiError(error.message || "network error", 0);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: the status alone has to do.
  }
  if (!response.ok) {
    const message = body && typeof body.error === "string" ? body.error : `HTTP ${response.status}`;
    throw new ApiError(message, response.status);
  }
  if (body === null) throw new ApiError(`${path}: the answer is not JSON`, response.status);
  return body;
}

function get(path, params) {
  const query = params ? `?${new URLSearchParams(params)}` : "";
  return request(path + query, { headers: { Accept: "application/json" } });
}

async function post(path, body) {
  const send = () => request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": state.session.csrf_token },
    body: JSON.stringify(body),
  });
  try {
    return await send();
  } catch (error) {
    // A restarted server has a new token: fetch it and try once more.
    if (error.status !== 403) throw error;
    await loadSession();
    return send();
  }
}

async function loadSession() {
  const session = await get("/api/session");
  state.session = session;
  const seconds = Number(session.refresh_seconds);
  state.refreshMs = Number.isFinite(seconds) && seconds > 0 ? Math.max(500, seconds * 1000) : 2000;
  const parts = ["resque-cpp", session.version, session.backend].filter(Boolean);
  fill($("footer"), parts.join(" · "));
}

const queuePath = (name) => `/api/queues/${encodeURIComponent(name)}`;

// ---- Banners -----------------------------------------------------------------------------

const errors = { load: null, action: null };

// Two sources: the view's refresh (cleared by the next good one) and the last action (kept
// until dismissed or until the next action succeeds, so a refresh does not hide it).
function setError(kind, message) {
  errors[kind] = message;
  const text = [errors.action, errors.load].filter(Boolean).join(" · ");
  $("error-text").textContent = text;
  $("error").hidden = !text;
}

let noticeTimer = null;
function notify(text) {
  const notice = $("notice");
  notice.textContent = text;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { notice.hidden = true; }, 5000);
}

function setStatus(text, bad) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("status-bad", Boolean(bad));
}

// Runs one POST for a button, reports its result or error, then refreshes the view, or on
// success calls `after` instead (which then decides where to go).
async function act(button, label, path, body, describe, after) {
  if (button) button.disabled = true;
  let ok = false;
  try {
    const result = await post(path, body);
    setError("action", null);
    notify(describe(result));
    ok = true;
  } catch (error) {
    setError("action", `${label} failed: ${error.message}`);
  }
  if (button) button.disabled = false;
  if (ok && after) after();
  else refreshSoon();
}

const plural = (n, one, many) => `${num(n)} ${n === 1 ? one : many}`;

// ---- Refresh loop ------------------------------------------------------------------------

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(refresh, state.refreshMs);
}

// Refreshes now, or right after the refresh in flight ends: requests never overlap.
function refreshSoon() {
  clearTimeout(state.timer);
  state.timer = null;
  if (state.busy) state.again = true;
  else refresh();
}

async function refresh() {
  // A hidden tab asks nothing; visibilitychange starts the loop again.
  if (document.visibilityState !== "visible") return;
  const generation = state.generation;
  const route = state.route;
  state.busy = true;
  try {
    if (!state.session) await loadSession();
    const data = await VIEWS[route.view].load(route);
    if (generation === state.generation) {
      draw(route, data);
      setStatus(`updated ${clock()}`, false);
      setError("load", null);
    }
  } catch (error) {
    if (generation === state.generation) {
      const down = error.status === 0 || error.status >= 500;
      setStatus(down ? `backend unreachable: ${error.message}` : `error: ${error.message}`, true);
      setError("load", error.message);
    }
  } finally {
    state.busy = false;
    if (state.again) {
      state.again = false;
      refresh();
    } else {
      schedule();
    }
  }
}

function draw(route, data) {
  const key = JSON.stringify([route, data]);
  if (key !== state.drawn) {
    state.last = data;
    VIEWS[route.view].render(data, route);
    state.drawn = key;
  }
  // Tells a test (and only after real data is on the page) that this view is drawn.
  document.body.dataset.ready = route.view;
}

function parseRoute() {
  const [head, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  if (head === "queues" && rest.join("/") !== "") {
    try {
      return { view: "queue", name: decodeURIComponent(rest.join("/")) };
    } catch {
      return { view: "overview" }; // a malformed %-escape
    }
  }
  return Object.hasOwn(VIEWS, head) && head !== "queue" ? { view: head } : { view: "overview" };
}

function onRoute() {
  state.route = parseRoute();
  state.generation += 1;
  state.drawn = "";
  state.last = null;
  delete document.body.dataset.ready;
  const view = state.route.view;
  for (const section of document.querySelectorAll("section.view")) {
    section.hidden = section.id !== `view-${view}`;
  }
  for (const link of document.querySelectorAll("#nav a")) {
    const active = link.dataset.view === view || (view === "queue" && link.dataset.view === "overview");
    link.classList.toggle("active", active);
  }
  document.title = view === "queue" ? `${state.route.name} · resque web` : `${view} · resque web`;
  refreshSoon();
}

// prev/next for a list of `shown` items starting at `start`; `total` may be null (unknown),
// then "next" is offered when a full page came back.
function pager(node, start, shown, total, size, go) {
  const end = start + shown;
  const more = total === null || total === undefined ? shown >= size : end < total;
  const label = shown ? `${num(start + 1)}–${num(end)}` : "none";
  fill(node,
    h("button", { type: "button", disabled: start <= 0, onclick: () => go(Math.max(0, start - size)) }, "← Prev"),
    h("span", { className: "muted" }, total === null || total === undefined ? label : `${label} of ${num(total)}`),
    h("button", { type: "button", disabled: !more, onclick: () => go(start + size) }, "Next →"));
  node.hidden = start === 0 && !more;
}

// ---- Overview ----------------------------------------------------------------------------

function renderOverview(data) {
  const t = data.totals || {};
  const card = (label, value, href, className) => {
    const body = [h("span", { className: "card-value" }, value), h("span", { className: "card-label" }, label)];
    return href ? h("a", { className: `card ${className || ""}`, href }, body) : h("div", { className: `card ${className || ""}` }, body);
  };
  fill($("overview-totals"),
    card("processed", num(t.processed)),
    card("failed", num(t.failed)),
    card("failed list", num(t.failed_list), "#/failed", t.failed_list ? "card-bad" : ""),
    card("pending", num(t.pending)),
    card("busy", num(t.busy), "#/workers"),
    card("idle", num(t.idle), "#/workers"),
    card("paused", num(t.paused), "#/workers", t.paused ? "card-warn" : ""),
    card("delayed", num(t.delayed), "#/delayed"),
    card("scheduler lag", age(t.scheduler_lag), "#/delayed", t.scheduler_lag > 60 ? "card-warn" : ""));
  $("overview-paused").hidden = !t.all_paused;

  fill($("overview-chart"), chart(rates(data.history || [])));

  const queues = data.queues || [];
  fill($("overview-queues"), queues.length
    ? table(["Queue", "Size", "Oldest job"], queues.map((q) => [
      h("a", { href: `#/queues/${encodeURIComponent(q.name)}`, className: "mono" }, q.name),
      num(q.size),
      age(q.oldest_age),
    ]), { numeric: [1, 2], id: "queues-table" })
    : empty("No queues."));

  const workers = data.workers || [];
  const shown = workers.slice(0, 12);
  fill($("overview-workers"),
    h("p", { className: "muted" }, `${num(t.busy)} busy · ${num(t.idle)} idle · ${num(t.paused)} paused`),
    workers.length
      ? table(["Worker", "State", "Job", "Running for"], shown.map((w) => [
        { value: w.id, className: "mono" }, badge(w.state), w.job ? w.job.class : DASH, age(w.running_for),
      ]), { numeric: [3] })
      : empty("No workers."),
    workers.length > shown.length ? h("a", { href: "#/workers" }, `and ${workers.length - shown.length} more…`) : null);
}

// Jobs per second between consecutive samples of the server's totals. A negative step (stats
// were reset) counts as zero rather than drawing a dip below the axis.
function rates(history) {
  const samples = [...history].sort((a, b) => a.t - b.t);
  const points = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    const dt = b.t - a.t;
    if (!(dt > 0)) continue;
    points.push({
      t: b.t,
      processed: Math.max(0, (b.processed - a.processed) / dt),
      failed: Math.max(0, (b.failed - a.failed) / dt),
    });
  }
  return points;
}

// 1, 2, 5, 10, 20, 50...: a round top for the y axis.
function niceCeil(value) {
  if (!(value > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * step).find((v) => v >= value);
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// An hour wide, ending at the newest sample: a server that has run a minute fills the right
// edge only, so the time axis never lies.
function chart(points) {
  if (points.length === 0) return empty("Collecting samples (one every 5 seconds)…");
  // Drawn at the panel's own width, so the text in it keeps its size.
  const W = Math.max(320, Math.round($("overview-chart").clientWidth) || 760);
  const H = 180;
  const left = 48;
  const right = 10;
  const top = 10;
  const bottom = 24;
  const end = points[points.length - 1].t;
  const begin = end - 3600;
  const max = niceCeil(Math.max(...points.map((p) => Math.max(p.processed, p.failed))));
  const x = (t) => left + ((t - begin) / 3600) * (W - left - right);
  const y = (v) => top + (1 - v / max) * (H - top - bottom);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": "processed and failed jobs per second" });
  for (const v of [0, max / 2, max]) {
    root.append(svg("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), class: "axis" }));
    root.append(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, formatRate(v)));
  }
  for (const [minutes, anchor] of [[60, "start"], [30, "middle"], [0, "end"]]) {
    root.append(svg("text", { x: x(end - minutes * 60), y: H - 6, "text-anchor": anchor, class: "tick" },
      minutes ? `-${minutes} min` : "now"));
  }
  for (const series of ["processed", "failed"]) {
    const coords = points.map((p) => `${x(p.t).toFixed(1)},${y(p[series]).toFixed(1)}`).join(" ");
    root.append(svg("polyline", { points: coords, class: `line line-${series}` }));
  }
  const latest = points[points.length - 1];
  const legend = h("p", { className: "legend" },
    h("span", { className: "key key-processed" }), `processed ${formatRate(latest.processed)}/s`,
    h("span", { className: "key key-failed" }), `failed ${formatRate(latest.failed)}/s`);
  const box = h("div");
  box.append(root, legend);
  return box;
}

function formatRate(v) {
  if (v === 0) return "0";
  return v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2);
}

// ---- Queue -------------------------------------------------------------------------------

function loadQueue(route) {
  const start = state.queueStart.get(route.name) || 0;
  return get(queuePath(route.name), { start, count: PAGE });
}

function renderQueue(data, route) {
  const name = route.name;
  const start = data.start || 0;
  const jobs = data.jobs || [];
  // The page emptied under us (jobs were taken or removed): step back to the last page.
  if (jobs.length === 0 && start > 0) {
    state.queueStart.set(name, Math.max(0, Math.floor((Math.max(data.size, 1) - 1) / PAGE) * PAGE));
    refreshSoon();
  }
  $("queue-name").textContent = name;
  $("queue-summary").textContent = plural(data.size, "job", "jobs");
  $("queue-clear").disabled = !data.size;
  fill($("queue-jobs"), jobs.length ? jobs.map((job) => jobCard(name, job)) : empty("This queue is empty."));
  pager($("queue-pager"), start, jobs.length, data.size, PAGE, (next) => {
    state.queueStart.set(name, next);
    refreshSoon();
  });
}

function jobCard(queue, job) {
  const remove = h("button", { type: "button", className: "danger small" }, "Remove");
  remove.onclick = () => {
    const what = job.class ? `this ${job.class} job` : "this job";
    if (!confirm(`Remove ${what} from queue "${queue}"? Jobs with the same class, id and args go too.`)) return;
    act(remove, "Remove", "/api/queue/remove", { queue, raw: job.raw },
      (r) => `Removed ${plural(r.removed, "job", "jobs")} from ${queue}.`);
  };
  const notJson = job.class === null && job.args === null;
  return h("article", { className: "item job" },
    h("div", { className: "item-head" },
      h("span", { className: "muted" }, `#${job.index}`),
      h("strong", { className: "mono" }, notJson ? "(payload is not JSON)" : job.class),
      h("span", { className: "muted" }, "id ", h("span", { className: "mono" }, job.id || DASH)),
      h("span", { className: "muted" }, `enqueued ${when(job.enqueued_at)}`),
      h("span", { className: "spacer" }),
      remove),
    notJson ? h("pre", { className: "args" }, job.raw) : pre(job.args));
}

$("queue-clear").onclick = () => {
  const name = state.route.name;
  const size = state.last ? state.last.size : 0;
  if (!confirm(`Delete queue "${name}" and its ${plural(size, "job", "jobs")}? This cannot be undone.`)) return;
  // The queue is gone: go to the overview rather than ask for it again.
  act($("queue-clear"), "Clear queue", "/api/queue/clear", { queue: name }, () => `Cleared queue ${name}.`,
    () => { location.hash = "#/overview"; });
};

// ---- Workers -----------------------------------------------------------------------------

function renderWorkers(data) {
  const workers = data.workers || [];
  fill($("workers-table"), workers.length
    ? table(["Worker", "Host", "PID", "Queues", "State", "Current job", "Running for", "Heartbeat", "Processed", "Failed"],
      workers.map((w) => [
        { value: w.id, className: "mono" },
        w.host,
        w.pid,
        (w.queues || []).join(", "),
        badge(w.state),
        w.job ? h("div", null, h("strong", { className: "mono" }, w.job.class),
          w.job.queue ? h("span", { className: "muted" }, ` on ${w.job.queue}`) : null,
          h("pre", { className: "args compact" }, JSON.stringify(w.job.args === undefined ? null : w.job.args))) : DASH,
        age(w.running_for),
        w.heartbeat_age === null || w.heartbeat_age === undefined ? DASH : `${age(w.heartbeat_age)} ago`,
        num(w.processed),
        num(w.failed),
      ]), { numeric: [2, 6, 7, 8, 9], id: "workers" })
    : empty("No workers are registered."));
}

// ---- Failed ------------------------------------------------------------------------------

function failedParams() {
  const f = state.failed;
  const params = { start: f.start, count: PAGE };
  if (f.queue) params.queue = f.queue;
  if (f.klass) params.class = f.klass;
  if (f.exception) params.exception = f.exception;
  return params;
}

function renderFailed(data) {
  const f = state.failed;
  const select = $("failed-queue");
  const names = ["", ...(data.queues || [])];
  if (f.queue && !names.includes(f.queue)) names.push(f.queue);
  const current = [...select.options].map((o) => o.value);
  if (JSON.stringify(current) !== JSON.stringify(names)) {
    fill(select, names.map((n) => h("option", { value: n }, n || "all queues")));
  }
  select.value = f.queue;

  const failures = data.failures || [];
  const start = data.start || 0;
  const filtered = data.matched !== null && data.matched !== undefined;
  const total = filtered ? data.matched : data.total;
  $("failed-summary").textContent = filtered
    ? `${num(data.matched)} of ${num(data.total)} failures match.`
    : `${plural(data.total, "failure", "failures")}.`;
  $("failed-retry-all").disabled = !total;
  $("failed-clear").disabled = !data.total;
  if (failures.length === 0 && start > 0) {
    f.start = Math.max(0, Math.floor((Math.max(total, 1) - 1) / PAGE) * PAGE);
    refreshSoon();
  }
  fill($("failed-list"), failures.length ? failures.map(failureCard) : empty(filtered ? "No failure matches." : "No failures."));
  pager($("failed-pager"), start, failures.length, total, PAGE, (next) => {
    f.start = next;
    refreshSoon();
  });
}

function failureCard(failure) {
  const record = { index: failure.index, list: failure.list, raw: failure.raw };
  const retry = h("button", { type: "button", className: "small" }, "Retry");
  retry.onclick = () => act(retry, "Retry", "/api/failed/retry", record,
    () => `Retried ${failure.class || "the job"} (pushed back on ${failure.queue}).`);
  const remove = h("button", { type: "button", className: "danger small" }, "Remove");
  remove.onclick = () => {
    if (!confirm(`Remove this ${failure.class || ""} failure?`)) return;
    act(remove, "Remove", "/api/failed/remove", record, () => "Removed the failure.");
  };

  const backtrace = failure.backtrace || [];
  let trace = null;
  if (backtrace.length) {
    trace = h("details", { className: "trace", open: state.openBacktraces.has(failure.raw) },
      h("summary", null, `Backtrace (${plural(backtrace.length, "line", "lines")})`),
      h("pre", null, backtrace.join("\n")));
    trace.addEventListener("toggle", () => {
      if (trace.open) state.openBacktraces.add(failure.raw);
      else state.openBacktraces.delete(failure.raw);
    });
  }
  const retried = failure.retried_at !== null && failure.retried_at !== undefined && failure.retried_at !== "";
  const meta = [
    ["failed at", when(failure.failed_at)],
    ["queue", failure.queue],
    ["worker", failure.worker],
    ["id", failure.id],
    ["retried at", retried ? when(failure.retried_at) : DASH],
  ];
  return h("article", { className: `item failure${retried ? " retried" : ""}`, dataset: { index: failure.index, retried: retried ? "1" : "" } },
    h("div", { className: "item-head" },
      h("strong", { className: "mono" }, failure.class || "(unknown class)"),
      failure.exception ? h("span", { className: "exception mono" }, failure.exception) : null,
      retried ? h("span", { className: "badge badge-idle" }, "retried") : null,
      h("span", { className: "spacer" }),
      retry,
      remove),
    h("p", { className: "error-text" }, failure.error || ""),
    h("dl", { className: "meta" }, meta.map(([k, v]) => [h("dt", null, k), h("dd", null, v === null || v === undefined || v === "" ? DASH : v)])),
    pre(failure.args),
    trace);
}

// Filters: the text inputs wait for a pause in typing so each key press is not a request.
let filterTimer = null;
function onFilter(delay) {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    const f = state.failed;
    f.queue = $("failed-queue").value;
    f.klass = $("failed-class").value.trim();
    f.exception = $("failed-exception").value.trim();
    f.start = 0;
    refreshSoon();
  }, delay);
}
$("failed-queue").addEventListener("change", () => onFilter(0));
$("failed-class").addEventListener("input", () => onFilter(300));
$("failed-exception").addEventListener("input", () => onFilter(300));
$("failed-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  onFilter(0);
});

// Retry all and Clear take the queue (and, for retry, class) filter; the API has no exception
// filter for them, so the confirmation says what will really happen.
$("failed-retry-all").onclick = () => {
  const f = state.failed;
  const scope = `${f.queue ? ` on queue "${f.queue}"` : ""}${f.klass ? ` of class "${f.klass}"` : ""}`;
  const note = f.exception ? "\n(The exception filter does not apply to Retry all.)" : "";
  if (!confirm(`Retry every failure${scope}?${note}`)) return;
  act($("failed-retry-all"), "Retry all", "/api/failed/retry_all", { queue: f.queue, class: f.klass },
    (r) => `Retried ${num(r.retried)}; skipped ${num(r.skipped)}, already retried ${num(r.already_retried)}, gone ${num(r.gone)}.`);
};

$("failed-clear").onclick = () => {
  const f = state.failed;
  const note = f.klass || f.exception ? "\n(The class and exception filters do not apply to Clear.)" : "";
  if (!confirm(`Delete every failure${f.queue ? ` on queue "${f.queue}"` : ""}? This cannot be undone.${note}`)) return;
  act($("failed-clear"), "Clear", "/api/failed/clear", { queue: f.queue }, () => {
    f.start = 0;
    return f.queue ? `Cleared the failures of ${f.queue}.` : "Cleared all failures.";
  });
};

// ---- Delayed, schedules, stats -----------------------------------------------------------

function renderDelayed(data) {
  const times = data.times || [];
  const start = state.delayedStart;
  $("delayed-summary").textContent = `${plural(data.total, "delayed job", "delayed jobs")}.`;
  const rows = [];
  for (const time of times) {
    // One row per job, the due time spanning them; a time whose jobs the API did not list in
    // full ends with an "and N more" row.
    const lines = (time.jobs || []).map((job) => [
      job.queue,
      { value: job.class, className: "mono" },
      pre(job.args, "args compact"),
      job.retry_count === null || job.retry_count === undefined ? DASH : num(job.retry_count),
      job.error || DASH,
    ]);
    const hidden = (time.size || 0) - lines.length;
    if (hidden > 0) lines.push([{ value: `and ${num(hidden)} more`, className: "muted" }, "", "", "", ""]);
    const due = h("div", null, when(time.at), h("div", { className: "muted" }, relative(time.at)));
    lines.forEach((line, i) => rows.push(i === 0 ? [{ value: due, rowSpan: lines.length }, ...line] : line));
  }
  fill($("delayed-table"), rows.length
    ? table(["Due", "Queue", "Class", "Args", "Retry", "Error"], rows, { id: "delayed" })
    : empty("No delayed jobs."));
  // `total` counts jobs, the pages count due times: `more` says whether a next page exists.
  pager($("delayed-pager"), start, times.length, data.more ? null : start + times.length, DELAYED_PAGE, (next) => {
    state.delayedStart = next;
    refreshSoon();
  });
}

function renderSchedules(data) {
  const schedules = data.schedules || [];
  fill($("schedules-table"), schedules.length
    ? table(["Name", "Class", "Queue", "Args", "When", "Description", "Next", "Last", "Error"],
      schedules.map((s) => [
        { value: s.name, className: "mono" },
        { value: s.class, className: "mono" },
        s.queue,
        pre(s.args, "args compact"),
        { value: s.cron ? s.cron : s.every ? `every ${s.every}` : DASH, className: "mono" },
        s.description || "",
        h("div", null, when(s.next), h("div", { className: "muted" }, relative(s.next))),
        h("div", null, when(s.last), h("div", { className: "muted" }, relative(s.last))),
        s.error ? { value: s.error, className: "bad" } : DASH,
      ]), { id: "schedules" })
    : empty("No schedules."));
}

const TOTALS = [
  ["processed", "Processed"], ["failed", "Failed"], ["failed_list", "Failed list"],
  ["pending", "Pending"], ["queues", "Queues"], ["workers", "Workers"], ["busy", "Busy"],
  ["idle", "Idle"], ["paused", "Paused"], ["delayed", "Delayed"],
];

function renderStats(data) {
  const t = data.totals || {};
  const rows = TOTALS.filter(([key]) => key in t).map(([key, label]) => [label, num(t[key])]);
  rows.push(["Scheduler lag", age(t.scheduler_lag)], ["All paused", t.all_paused ? "yes" : "no"]);
  fill($("stats-totals"), table(["Counter", "Value"], rows, { numeric: [1], id: "totals" }));
  $("stats-backend").textContent = data.backend || (state.session && state.session.backend) || DASH;
  const workers = data.workers || [];
  fill($("stats-workers"), workers.length
    ? table(["Worker", "Processed", "Failed"], workers.map((w) => [
      { value: w.id, className: "mono" }, num(w.processed), num(w.failed)]), { numeric: [1, 2] })
    : empty("No workers."));
}

const VIEWS = {
  overview: { load: () => get("/api/overview"), render: renderOverview },
  queue: { load: loadQueue, render: renderQueue },
  workers: { load: () => get("/api/workers"), render: renderWorkers },
  failed: { load: () => get("/api/failed", failedParams()), render: renderFailed },
  delayed: { load: () => get("/api/delayed", { start: state.delayedStart, count: DELAYED_PAGE }), render: renderDelayed },
  schedules: { load: () => get("/api/schedules"), render: renderSchedules },
  stats: { load: () => get("/api/stats"), render: renderStats },
};

// ---- Start -------------------------------------------------------------------------------

$("error-close").onclick = () => {
  setError("action", null);
  setError("load", null);
};
window.addEventListener("hashchange", onRoute);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") refreshSoon();
});
onRoute();
