// Drives resque web's dashboard in a real headless Chromium for the C++ web test: visits every
// view, checks that what the scenario put in Redis is on the page, that nothing from Redis ran
// as markup, that a failure can be retried from the page, and that a POST without the CSRF
// token is refused.
//
//   node tests/web/browser.js --url http://127.0.0.1:PORT --scenario FILE.json
//                             [--screenshots DIR] [--auth user:pass]
//
// Prints one JSON line, {"ok", "checks": [{name, ok, detail}], "console_errors",
// "failed_requests"}, and exits 0 when every check passed, 1 when one did not, 2 when the run
// overstayed its 60 seconds (the browser is killed then).
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const puppeteer = require("puppeteer-core");

const CHROMIUM = "/usr/bin/chromium";
const RUN_MS = 60_000; // the whole run
const WAIT_MS = 15_000; // any one wait: launch, navigation, selector, protocol call

// This machine has no network beyond loopback: these keep Chromium from trying to reach
// Google's services (and from stalling on them) and let it run as root in a container.
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

const checks = [];
const events = []; // {phase, kind: "console" | "pageerror" | "request", text}
let phase = "start"; // the step under way, to say where an error came from
const visited = []; // the phases that opened a view, each checked for errors at the end
let browser = null;
let profile = null;
let finished = false;

function check(name, ok, detail = "") {
  checks.push({ name, ok: Boolean(ok), detail: String(detail) });
  return Boolean(ok);
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (!["--url", "--scenario", "--screenshots", "--auth"].includes(key) || value === undefined) {
      throw new Error(`unknown or incomplete argument ${JSON.stringify(key)}`);
    }
    args[key.slice(2)] = value;
  }
  if (!args.url || !args.scenario) throw new Error("--url and --scenario are required");
  args.url = args.url.replace(/\/+$/, "");
  return args;
}

// Prints the one result line and exits; runs once, whether from the end of main or the watchdog.
function finish(code) {
  if (finished) return;
  finished = true;
  const ok = code === 0 && checks.length > 0 && checks.every((c) => c.ok);
  const line = JSON.stringify({
    ok,
    checks,
    console_errors: events.filter((e) => e.kind !== "request" && !expected(e)).map((e) => `[${e.phase}] ${e.text}`),
    failed_requests: events.filter((e) => e.kind === "request" && !expected(e)).map((e) => `[${e.phase}] ${e.text}`),
  });
  process.stdout.write(`${line}\n`, () => process.exit(code === 2 ? 2 : ok ? 0 : 1));
}

function removeProfile() {
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  profile = null;
}

// Kills Chromium and its helpers: puppeteer starts it detached, as the leader of its own
// process group.
function killBrowser() {
  const child = browser && browser.process();
  if (!child || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

const watchdog = setTimeout(() => {
  check("the run ends within 60 s", false, `still busy with: ${phase}`);
  killBrowser();
  removeProfile();
  finish(2);
}, RUN_MS);

function watch(page) {
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const where = message.location() && message.location().url;
    events.push({ phase, kind: "console", text: where ? `${message.text()} (${where})` : message.text() });
  });
  page.on("pageerror", (error) => events.push({ phase, kind: "pageerror", text: String(error && error.message) }));
  page.on("requestfailed", (request) => {
    const failure = request.failure();
    events.push({ phase, kind: "request", text: `${request.method()} ${request.url()}: ${failure ? failure.errorText : "failed"}` });
  });
  page.on("response", (response) => {
    if (response.status() < 400) return;
    events.push({ phase, kind: "request", text: `${response.request().method()} ${response.url()}: HTTP ${response.status()}` });
  });
  page.on("dialog", (dialog) => dialog.accept().catch(() => {}));
}

// The expected CSRF refusals log "Failed to load resource: ... 403" and a 403 response; they
// are the point of that step, not a fault of the page.
function expected(event) {
  return event.phase === "csrf" && /403/.test(event.text);
}

function problems(label) {
  return events.filter((e) => e.phase === label && !expected(e));
}

async function screenshot(page, args, name) {
  if (!args.screenshots) return;
  fs.mkdirSync(args.screenshots, { recursive: true });
  const file = path.join(args.screenshots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
}

// Opens a view by its hash, the first one by loading the page and the others the way a click
// on the nav bar does, and waits until the page says it has drawn that view from real data.
async function open(page, args, label, view, hash, queueName) {
  phase = label;
  visited.push(label);
  if (page.url() === "about:blank") {
    await page.goto(`${args.url}/${hash}`, { waitUntil: "load" });
  } else {
    await page.evaluate((h) => {
      delete document.body.dataset.ready;
      location.hash = h;
    }, hash);
  }
  try {
    // For a queue the name must match too: the previous queue's refresh may land first.
    await page.waitForFunction((v, name) => document.body.dataset.ready === v &&
      (name === null || document.getElementById("queue-name").textContent === name), {}, view, queueName);
    check(`${label}: drawn`, true);
  } catch (error) {
    const banner = await page.evaluate(() => document.getElementById("error-text")?.innerText || "").catch(() => "");
    check(`${label}: drawn`, false, `${error.message}${banner ? `; error banner: ${banner}` : ""}`);
    return null;
  }
  const state = await page.evaluate((v) => ({
    text: document.getElementById(`view-${v}`).innerText,
    banner: document.getElementById("error").hidden ? "" : document.getElementById("error-text").innerText,
  }), view);
  check(`${label}: no error banner`, !state.banner, state.banner);
  return state.text;
}

// Nothing from the API became markup: no script ran, no element was injected, no handler set.
async function checkSafe(page, label) {
  const found = await page.evaluate(() => {
    const handlers = [];
    for (const el of document.querySelectorAll("*")) {
      for (const attribute of el.attributes) {
        if (attribute.name.startsWith("on")) handlers.push(`<${el.localName} ${attribute.name}>`);
      }
    }
    return {
      xss: typeof window.__xss,
      images: document.querySelectorAll("img").length,
      scripts: [...document.scripts].map((s) => s.src || "(inline)").filter((src) => !src.endsWith("/app.js")),
      handlers,
    };
  });
  check(`${label}: no injected script ran (window.__xss is undefined)`, found.xss === "undefined", `typeof window.__xss = ${found.xss}`);
  check(`${label}: no injected <img>`, found.images === 0, `${found.images} img element(s)`);
  check(`${label}: no injected <script>`, found.scripts.length === 0, found.scripts.join(", "));
  check(`${label}: no inline event handler attributes`, found.handlers.length === 0, found.handlers.join(", "));
}

function checkQuiet(label) {
  const seen = problems(label);
  const errors = seen.filter((e) => e.kind !== "request").map((e) => e.text);
  const requests = seen.filter((e) => e.kind === "request").map((e) => e.text);
  check(`${label}: no console errors`, errors.length === 0, errors.join(" | "));
  check(`${label}: no failed requests`, requests.length === 0, requests.join(" | "));
}

const digits = (s) => String(s).replace(/\D/g, "");

async function tableRows(page, selector) {
  return page.evaluate((s) => [...document.querySelectorAll(`${s} tbody tr`)]
    .map((tr) => [...tr.cells].map((td) => td.innerText.trim())), selector);
}

async function visitOverview(page, args, scenario, texts) {
  const text = await open(page, args, "overview", "overview", "#/overview", null);
  if (text === null) return;
  texts.overview = text;
  const rows = await tableRows(page, "#queues-table");
  for (const q of scenario.queues || []) {
    const row = rows.find((cells) => cells[0] === q.name);
    check(`overview: lists queue ${q.name}`, row, row ? "" : `queues shown: ${rows.map((r) => r[0]).join(", ")}`);
    if (row && q.size !== undefined) {
      check(`overview: queue ${q.name} has size ${q.size}`, digits(row[1]) === String(q.size), `shown: ${row[1]}`);
    }
  }
  await checkSafe(page, "overview");
  await screenshot(page, args, "overview");
}

async function visitQueues(page, args, scenario, texts) {
  const names = [...new Set([...(scenario.queues || []).map((q) => q.name),
    ...(scenario.queue_jobs || []).map((j) => j.queue)])];
  for (const [i, name] of names.entries()) {
    const label = `queue ${name}`;
    const text = await open(page, args, label, "queue", `#/queues/${encodeURIComponent(name)}`, name);
    if (text === null) continue;
    texts[label] = text;
    const expectedQueue = (scenario.queues || []).find((q) => q.name === name);
    if (expectedQueue && expectedQueue.size !== undefined) {
      const summary = await page.evaluate(() => document.getElementById("queue-summary").innerText);
      check(`${label}: says ${expectedQueue.size} jobs`, digits(summary) === String(expectedQueue.size), `shown: ${summary}`);
    }
    for (const job of (scenario.queue_jobs || []).filter((j) => j.queue === name)) {
      if (job.class) check(`${label}: shows class ${job.class}`, text.includes(job.class));
      if (job.text) check(`${label}: shows ${JSON.stringify(job.text)}`, text.includes(job.text));
    }
    await checkSafe(page, label);
    await screenshot(page, args, i === 0 ? "queue" : `queue-${name.replace(/[^A-Za-z0-9_.-]/g, "_")}`);
  }
}

async function visitWorkers(page, args, scenario, texts) {
  const text = await open(page, args, "workers", "workers", "#/workers", null);
  if (text === null) return;
  texts.workers = text;
  const rows = await tableRows(page, "#workers");
  for (const w of scenario.workers || []) {
    const row = rows.find((cells) => cells[0] === w.id);
    if (!check(`workers: lists ${w.id}`, row, row ? "" : `workers shown: ${rows.map((r) => r[0]).join(", ")}`)) continue;
    if (w.state) check(`workers: ${w.id} is ${w.state}`, row.includes(w.state), `row: ${row.join(" | ")}`);
    if (w.class) check(`workers: ${w.id} runs ${w.class}`, row.join(" ").includes(w.class), `row: ${row.join(" | ")}`);
  }
  await checkSafe(page, "workers");
  await screenshot(page, args, "workers");
}

// The text of every failure card on the failed view.
async function failureCards(page) {
  return page.evaluate(() => [...document.querySelectorAll("#view-failed .failure")]
    .map((card) => ({ text: card.innerText, retried: card.dataset.retried === "1" })));
}

async function visitFailed(page, args, scenario, texts) {
  const text = await open(page, args, "failed", "failed", "#/failed", null);
  if (text === null) return;
  texts.failed = text;
  const cards = await failureCards(page);
  for (const f of scenario.failures || []) {
    const card = cards.find((c) => c.text.includes(f.class) && c.text.includes(f.error) &&
      (!f.queue || c.text.includes(f.queue)));
    check(`failed: shows ${f.class}: ${f.error}${f.queue ? ` on ${f.queue}` : ""}`, card, `${cards.length} failure(s) shown`);
  }
  await checkSafe(page, "failed");
  await screenshot(page, args, "failed");
}

async function visitSimple(page, args, view, wanted, texts) {
  const text = await open(page, args, view, view, `#/${view}`, null);
  if (text === null) return;
  texts[view] = text;
  for (const [what, value] of wanted) check(`${view}: shows ${what} ${value}`, text.includes(value));
  await checkSafe(page, view);
  await screenshot(page, args, view);
}

// Each hostile string must be on the page as the characters themselves. Inside pretty-printed
// args JSON escapes some characters (a quote shows as \"), which still reads literally.
function checkXssShown(scenario, texts) {
  for (const s of scenario.xss || []) {
    const escaped = JSON.stringify(s).slice(1, -1);
    const literal = Object.keys(texts).filter((view) => texts[view].includes(s));
    const inJson = Object.keys(texts).filter((view) => !literal.includes(view) && texts[view].includes(escaped));
    const where = [...literal, ...inJson.map((v) => `${v} (JSON-escaped)`)];
    check(`shows ${JSON.stringify(s)} as text`, where.length > 0, where.length ? `on ${where.join(", ")}` : "on no view");
  }
}

// Clicks Retry on the first not-yet-retried failure matching the scenario's `retry` and waits
// until it shows a retried_at, or the page reports the retry.
async function retryFailure(page, args, scenario) {
  const { class: klass, error } = scenario.retry;
  const label = "retry";
  if ((await open(page, args, label, "failed", "#/failed", null)) === null) return;
  // Found and clicked in one synchronous step, so a refresh cannot redraw the card in between.
  const clicked = await page.evaluate((k, e) => {
    const card = [...document.querySelectorAll("#view-failed .failure")]
      .find((c) => c.innerText.includes(k) && c.innerText.includes(e) && c.dataset.retried !== "1");
    const button = card && [...card.querySelectorAll("button")].find((b) => b.textContent.trim() === "Retry");
    if (!button) return false;
    button.click();
    return true;
  }, klass, error);
  if (!check(`retry: a Retry button for ${klass}: ${error}`, clicked, clicked ? "" : "no unretried failure matches")) return;
  try {
    const how = await page.waitForFunction((k, e) => {
      const retried = [...document.querySelectorAll("#view-failed .failure")]
        .some((c) => c.innerText.includes(k) && c.innerText.includes(e) && c.dataset.retried === "1");
      if (retried) return "the failure shows retried_at";
      const notice = document.getElementById("notice");
      if (!notice.hidden && /retried/i.test(notice.textContent)) return `notice: ${notice.textContent}`;
      const banner = document.getElementById("error");
      if (!banner.hidden) return `error: ${document.getElementById("error-text").innerText}`;
      return false;
    }, {}, klass, error);
    const outcome = await how.jsonValue();
    check(`retry: ${klass} retried from the page`, !outcome.startsWith("error:"), outcome);
  } catch (e) {
    check(`retry: ${klass} retried from the page`, false, e.message);
  }
}

// A POST without the token, and one with a wrong token, must be refused with 403.
async function checkCsrf(page) {
  phase = "csrf";
  const answers = await page.evaluate(async () => {
    const attempt = async (headers) => {
      const response = await fetch("/api/failed/clear", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", ...headers },
        body: "{}",
      });
      let body = null;
      try {
        body = await response.json();
      } catch {
        // Reported below as a missing error message.
      }
      return { status: response.status, error: body && body.error };
    };
    return { none: await attempt({}), wrong: await attempt({ "X-CSRF-Token": "not-the-token" }) };
  });
  for (const [key, what] of [["none", "without the CSRF token"], ["wrong", "with a wrong CSRF token"]]) {
    const a = answers[key];
    check(`csrf: POST /api/failed/clear ${what} is refused with 403`, a.status === 403,
      `HTTP ${a.status}${a.error ? `: ${a.error}` : ""}`);
    check(`csrf: the refusal ${what} carries an error message`, typeof a.error === "string" && a.error !== "", JSON.stringify(a.error));
  }
}

async function run(args) {
  const scenario = JSON.parse(fs.readFileSync(args.scenario, "utf8"));
  profile = fs.mkdtempSync(path.join(os.tmpdir(), "resque-web-chromium-"));
  phase = "launch";
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: FLAGS,
    timeout: WAIT_MS,
    protocolTimeout: WAIT_MS,
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.setDefaultNavigationTimeout(WAIT_MS);
    await page.setViewport({ width: 1280, height: 800 });
    if (args.auth) {
      const colon = args.auth.indexOf(":");
      await page.authenticate({ username: args.auth.slice(0, colon), password: args.auth.slice(colon + 1) });
    }
    watch(page);

    const texts = {}; // view label -> innerText, for the checks that span views
    const steps = [
      ["overview", () => visitOverview(page, args, scenario, texts)],
      ["queues", () => visitQueues(page, args, scenario, texts)],
      ["workers", () => visitWorkers(page, args, scenario, texts)],
      ["failed", () => visitFailed(page, args, scenario, texts)],
      ["delayed", () => visitSimple(page, args, "delayed", (scenario.delayed || []).map((d) => ["class", d.class]), texts)],
      ["schedules", () => visitSimple(page, args, "schedules", (scenario.schedules || []).map((n) => ["schedule", n]), texts)],
      ["stats", () => visitSimple(page, args, "stats", [], texts)],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        check(`${name}: visited`, false, error.message);
      }
    }
    for (const label of visited) checkQuiet(label);
    checkXssShown(scenario, texts);

    if (scenario.retry) {
      try {
        await retryFailure(page, args, scenario);
      } catch (error) {
        check("retry: visited", false, error.message);
      }
      checkQuiet("retry");
    }
    try {
      await checkCsrf(page);
    } catch (error) {
      check("csrf: checked", false, error.message);
    }
    const stray = events.filter((e) => !expected(e));
    check("no console errors or failed requests in the whole run", stray.length === 0,
      stray.map((e) => `[${e.phase}] ${e.text}`).join(" | "));
  } finally {
    phase = "close";
    const closed = await Promise.race([
      browser.close().then(() => true, () => false),
      new Promise((resolve) => setTimeout(resolve, 5000, false)),
    ]);
    if (!closed) killBrowser();
    removeProfile();
  }
}

async function main() {
  try {
    await run(parseArgs(process.argv.slice(2)));
  } catch (error) {
    check(`run (${phase})`, false, error && error.stack ? error.stack : error);
    killBrowser();
    removeProfile();
  }
  clearTimeout(watchdog);
  finish(checks.every((c) => c.ok) ? 0 : 1);
}

main();
