// Load every page of a built book in headless Chromium and check what a reader sees.
//
// Usage: node check_book.mjs CONFIG.json REPORT.json
//   CONFIG: {baseUrl, chromium, pages: [{path, heading}], screenshots: [{path, file}],
//            launch: {name: pattern}, buttonHosts: [host], allowedButtonLinks: [substring]}
//   REPORT: {pages: [{path, title, heading, math, images, solutions}], failures: [string]}
//
// Driven by tests/test_book_browser.py, which serves the site on 127.0.0.1, installs
// playwright-core into build/node and finds Debian's Chromium. The browser may only
// talk to 127.0.0.1: any other request is aborted and reported.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";

// playwright-core lives in build/node (installed by the test), not beside this file.
const require = createRequire(process.env.BOOK_NODE_PACKAGE_JSON || import.meta.url);
const { chromium } = require("playwright-core");

const [configFile, reportFile] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configFile, "utf8"));
const base = new URL(config.baseUrl);
const failures = [];
const fail = (where, what) => failures.push(`${where}: ${what}`);

// Runs inside the page: everything we can judge from the DOM once it has settled.
async function inspectPage() {
  const out = {};
  out.title = document.title.trim();
  const h1 = document.querySelector("article h1, main h1, h1");
  out.heading = h1 ? h1.textContent.replace(/[#¶]/g, "").trim() : null;

  // Images: force lazy ones to load, wait, then every one must have pixels.
  const images = [...document.querySelectorAll("img")];
  images.forEach((img) => { img.loading = "eager"; });
  await Promise.all(images.map((img) => (img.complete ? null : new Promise((done) => {
    img.addEventListener("load", done); img.addEventListener("error", done);
    setTimeout(done, 10000);
  }))));
  out.images = images.length;
  out.brokenImages = images.filter((img) => !(img.naturalWidth > 0))
    .map((img) => img.getAttribute("src"));

  // Math: every math element typeset by MathJax, and no raw TeX delimiters left.
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const maths = [...document.querySelectorAll(".math")];
  out.math = maths.length;
  out.mathJaxLoaded = Boolean(window.MathJax && MathJax.startup);
  out.untypeset = maths.filter((m) => !m.querySelector("mjx-container"))
    .map((m) => m.textContent.trim().slice(0, 80));
  const rawTex = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => (node.parentElement.closest("pre, code, script, style, textarea, .highlight, mjx-container")
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent;
    if (/\\\(|\\\)|\\\[|\\\]|\$\$/.test(text)) rawTex.push(text.trim().slice(0, 80));
  }
  out.rawTex = rawTex;

  // Error outputs, tracebacks, warnings: only inside cells that raise on purpose.
  const allowed = (el) => el.closest(".tag_raises-exception");
  out.errors = [...document.querySelectorAll(
    ".output.traceback, .output.error, .output.stderr, .system-message, .problematic")]
    .filter((el) => !allowed(el)).map((el) => el.textContent.trim().slice(0, 120));
  out.errors.push(...[...document.querySelectorAll(".cell_output")]
    .filter((el) => !allowed(el) && /Traceback \(most recent call last\)|\b\w+Warning: /.test(el.textContent))
    .map((el) => el.textContent.trim().slice(0, 120)));

  // Links and anchors, for the link check once every page is loaded.
  out.links = [...document.querySelectorAll("a[href]")]
    .map((a) => a.getAttribute("href")).filter((href) => href && !href.startsWith("javascript:"))
    .map((href) => new URL(href, document.baseURI).href);
  out.ids = [...document.querySelectorAll("[id]")].map((el) => el.id);

  // Exercises and solutions: solutions start collapsed.
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  out.exercises = [...document.querySelectorAll(".exercise")].map((ex) => ({
    id: ex.id, title: (ex.querySelector(".admonition-title") || {}).textContent || "",
  }));
  out.solutions = [...document.querySelectorAll(".solution")].map((sol) => ({
    id: sol.id,
    dropdown: sol.classList.contains("dropdown"),
    title: (sol.querySelector(".admonition-title") || {}).textContent || "",
    bodyVisible: [...sol.children].filter((c) => !c.classList.contains("admonition-title"))
      .some((c) => visible(c)),
  }));

  // Download and launch buttons (chapters only).
  out.hrefs = [...document.querySelectorAll("a[href]")].map((a) => a.href);
  return out;
}

const browser = await chromium.launch({
  executablePath: config.chromium,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
await context.route("**/*", (route) => {
  const url = new URL(route.request().url());
  if (["data:", "blob:"].includes(url.protocol) || url.host === base.host) return route.continue();
  let from = "a page";
  try { from = route.request().frame().url(); } catch { /* a worker's request */ }
  fail(from, `requested a file from another host: ${url.href}`);
  return route.abort();
});

const report = { pages: [], failures };
const loaded = new Map(); // page URL without hash -> ids
const links = []; // [from, absolute URL]

for (const spec of config.pages) {
  const url = new URL(spec.path, base).href;
  const page = await context.newPage();
  page.on("pageerror", (err) => fail(spec.path, `JavaScript error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !/favicon\.ico/.test(msg.location().url || "")) {
      fail(spec.path, `console error: ${msg.text()}`);
    }
  });
  const response = await page.goto(url, { waitUntil: "load" });
  if (!response || !response.ok()) {
    fail(spec.path, `HTTP ${response ? response.status() : "no response"}`);
    await page.close();
    continue;
  }
  const info = await page.evaluate(inspectPage);
  const where = spec.path;

  if (!info.title) fail(where, "the page has no <title>");
  if (!info.heading) fail(where, "the page has no <h1> heading");
  if (spec.heading && info.heading !== spec.heading) {
    fail(where, `heading is ${JSON.stringify(info.heading)}, expected ${JSON.stringify(spec.heading)}`);
  }
  if (spec.heading && !info.title.includes(spec.heading)) {
    fail(where, `title ${JSON.stringify(info.title)} does not name ${JSON.stringify(spec.heading)}`);
  }
  info.brokenImages.forEach((src) => fail(where, `image did not load: ${src}`));
  if (info.math && !info.mathJaxLoaded) fail(where, `${info.math} math element(s) but MathJax did not load`);
  info.untypeset.forEach((tex) => fail(where, `math not typeset: ${tex}`));
  info.rawTex.forEach((tex) => fail(where, `raw TeX left in the text: ${tex}`));
  info.errors.forEach((text) => fail(where, `error output shown: ${text}`));
  info.exercises.filter((ex) => !ex.title.trim()).forEach((ex) => fail(where, `exercise ${ex.id} has no title`));
  info.solutions.forEach((sol) => {
    if (!sol.dropdown) fail(where, `solution ${sol.id} is not a dropdown (add :class: dropdown)`);
    if (sol.bodyVisible) fail(where, `solution ${sol.id} is shown open; it must start collapsed`);
  });

  // Screenshots first, as a reader lands on the page (before any click scrolls it).
  for (const shot of config.screenshots.filter((s) => s.path === spec.path)) {
    await page.screenshot({ path: shot.file, fullPage: true });
  }

  // A solution must open when clicked (the reader can see it).
  if (info.solutions.length) {
    const first = page.locator(".solution").first();
    await first.locator(".admonition-title").click();
    const opened = await first.evaluate((sol) => [...sol.children]
      .filter((c) => !c.classList.contains("admonition-title"))
      .some((c) => c.getClientRects().length > 0));
    if (!opened) fail(where, `solution ${info.solutions[0].id} does not open when clicked`);
    await first.locator(".admonition-title").click();
  }

  if (spec.chapter) {
    const hrefs = info.hrefs;
    const has = (pattern) => hrefs.some((h) => h.includes(pattern));
    if (!has(`_sources/${spec.path.replace(/\.html$/, ".ipynb")}`)) fail(where, "no download-as-notebook button");
    for (const [name, pattern] of Object.entries(config.launch)) {
      if (!has(pattern)) fail(where, `no ${name} launch button (a link containing ${pattern})`);
    }
  }
  // No button or link points at a launch or repository host nobody configured.
  for (const href of info.links) {
    const host = new URL(href).host;
    const buttonLink = (config.buttonHosts || []).includes(host) || href.includes("git-pull?repo=");
    if (buttonLink && !(config.allowedButtonLinks || []).some((ok) => href.includes(ok))) {
      fail(where, `link to an unconfigured host: ${href}`);
    }
  }

  loaded.set(url, new Set(info.ids));
  info.links.forEach((href) => links.push([where, href]));
  report.pages.push({ path: spec.path, title: info.title, heading: info.heading, math: info.math,
    images: info.images, exercises: info.exercises.length, solutions: info.solutions.length });
  await page.close();
}

// Every internal link resolves: the file exists, and its #anchor is on that page.
const status = new Map();
for (const [from, href] of links) {
  const target = new URL(href);
  if (target.host !== base.host) continue;
  const hash = decodeURIComponent(target.hash.slice(1));
  target.hash = "";
  const file = target.href;
  if (!loaded.has(file) && !status.has(file)) {
    const response = await context.request.get(file);
    status.set(file, response.status());
    if (response.ok() && /\.html$/.test(target.pathname)) {
      // A page not in the list: read its ids from the HTML for the anchor check.
      const ids = [...(await response.text()).matchAll(/\sid="([^"]*)"/g)].map((m) => m[1]);
      loaded.set(file, new Set(ids));
    }
  }
  if (status.has(file) && status.get(file) !== 200) {
    fail(from, `broken link to ${href} (HTTP ${status.get(file)})`);
  } else if (hash && loaded.has(file) && !loaded.get(file).has(hash)) {
    fail(from, `broken link to ${href}: no element with id "${hash}" on that page`);
  }
}

await browser.close();
writeFileSync(reportFile, JSON.stringify(report, null, 2));
