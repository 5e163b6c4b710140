// Open notebooks in the course's JupyterLab in headless Chromium; report what a student sees.
//
// Usage: node check_lab.mjs CONFIG.json REPORT.json
//   CONFIG: {baseUrl, token, chromium, notebooks: [{path, screenshot, runAll, runCellsWith}]}
//     runAll: run every cell (Run > Run All Cells) and wait for the kernel to finish;
//     runCellsWith: run only the code cell containing this text and the one above it;
//     moveSlider: move the first ipywidgets slider one step (outputs before and after);
//     noMarkdown: the notebook has no markdown cell (do not wait for one).
//   REPORT: {notebooks: [{path, markdownCells, unrendered, raw, exercises, solutions,
//            citations, text, codeCells, executed, errors, ranOutputs}], failures}
//
// Driven by tests/test_lab_browser.py, which starts `make lab`'s server on 127.0.0.1
// and finds Chromium and playwright-core (tests/browser/book_harness.py). The browser
// may only talk to 127.0.0.1: any other request is aborted and reported.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";

const require = createRequire(process.env.BOOK_NODE_PACKAGE_JSON || import.meta.url);
const { chromium } = require("playwright-core");

const [configFile, reportFile] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configFile, "utf8"));
const base = new URL(config.baseUrl);
const failures = [];
const fail = (where, what) => failures.push(`${where}: ${what}`);

// Runs inside the page: what the rendered markdown cells and the outputs show.
function inspectNotebook() {
  const panel = document.querySelector(".jp-NotebookPanel:not(.lm-mod-hidden)");
  const md = [...panel.querySelectorAll(".jp-MarkdownCell")];
  // jupyterlab-myst renders a markdown cell into a widget of class "myst"
  const rendered = (cell) => cell.querySelector(".myst");
  const textOf = (cell) => (rendered(cell) || cell).innerText;
  const raw = [];
  const rawPattern = /\{(exercise|solution)-(start|end)\}|\{exercise\}|\{solution\}|\{cite:[pt]\}|\{ref\}|:label:|:class: dropdown|```/;
  md.forEach((cell, i) => {
    const text = textOf(cell);
    const match = text.match(rawPattern);
    if (match) raw.push(`markdown cell ${i}: ${match[0]} in "${text.slice(Math.max(0, match.index - 40), match.index + 60)}"`);
  });
  const exercises = [...panel.querySelectorAll(".jp-MarkdownCell aside.myst-exercise[id]")]
    .map((el) => ({ id: el.id,
                    title: (el.querySelector(".myst-exercise-title") || el).innerText.trim(),
                    body: (el.querySelector(".myst-exercise-body") || el).innerText.trim().slice(0, 200) }));
  const solutions = [...panel.querySelectorAll(".jp-MarkdownCell details.myst-exercise")]
    .map((el) => ({ title: el.querySelector("summary").innerText.trim(), open: el.open,
                    bodyVisible: [...el.querySelectorAll(".myst-exercise-body")]
                      .some((b) => b.checkVisibility() && b.getClientRects().length > 0) }));
  const citations = [...panel.querySelectorAll(".jp-MarkdownCell .cite-group")]
    .map((el) => ({ text: el.innerText.trim(), kind: el.className }));
  // display math typeset (KaTeX), with its equation number; links to labels in the page
  const equations = [...panel.querySelectorAll(".jp-MarkdownCell .katex-display")]
    .map((el) => (el.querySelector(".tag") || { innerText: "" }).innerText.trim());
  const crossRefs = [...panel.querySelectorAll(".jp-MarkdownCell a[href^='#ex-']")]
    .filter((a) => !a.closest(".myst-exercise-header, summary"))
    .map((a) => ({ target: a.getAttribute("href").slice(1), text: a.innerText.trim(),
                   resolves: Boolean(panel.querySelector(`[id="${a.getAttribute("href").slice(1)}"]`)) }));
  const code = [...panel.querySelectorAll(".jp-CodeCell")];
  const prompts = code.map((cell) => (cell.querySelector(".jp-InputPrompt") || {}).innerText || "");
  const errorSelector = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]';
  return {
    markdownCells: md.length,
    unrendered: md.filter((cell) => !rendered(cell) || !cell.classList.contains("jp-mod-rendered")).length,
    raw, exercises, solutions, citations, equations, crossRefs,
    text: md.map(textOf).join("\n") + "\n" + code.map((c) => c.innerText).join("\n"),
    codeCells: code.length,
    executed: prompts.filter((p) => /\[\d+\]/.test(p)).length,
    busy: prompts.filter((p) => p.includes("*")).length,
    errors: [...panel.querySelectorAll(errorSelector)].map((el) => el.innerText.trim().slice(0, 300)),
  };
}

const browser = await chromium.launch({
  executablePath: config.chromium,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const report = { notebooks: [], failures };
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === base.hostname || url.protocol === "data:" || url.protocol === "blob:") {
      return route.continue();
    }
    fail("network", `request to ${url.href} aborted (the lab must work offline)`);
    return route.abort();
  });
  for (const nb of config.notebooks) {
    const page = await context.newPage();
    const consoleErrors = [];
    page.on("pageerror", (error) => consoleErrors.push(String(error).slice(0, 300)));
    const where = nb.path;
    try {
      await page.goto(`${config.baseUrl}/lab/tree/${nb.path}?token=${config.token}&reset`);
      await page.waitForSelector(".jp-NotebookPanel .jp-Notebook .jp-Cell", { timeout: 90000 });
      // the kernel is ready (status bar), and MyST has rendered every markdown cell
      await page.waitForFunction((expectMarkdown) => {
        const md = [...document.querySelectorAll(".jp-NotebookPanel .jp-MarkdownCell")];
        return md.length > 0 === expectMarkdown
          && md.every((c) => c.classList.contains("jp-mod-rendered") && c.querySelector(".myst"));
      }, !nb.noMarkdown, { timeout: 60000 });
      await page.waitForSelector(".jp-Notebook-ExecutionIndicator[data-status='idle']", { timeout: 120000 })
        .catch(() => fail(where, "the kernel did not become idle within 120 s"));
      await page.waitForTimeout(2000);
      let ranOutputs = [];
      if (nb.runAll) {
        await page.click(".jp-NotebookPanel .jp-Notebook");
        await page.locator(".lm-MenuBar-item", { hasText: /^Run$/ }).click();
        await page.locator(".lm-Menu-itemLabel", { hasText: /^Run All Cells$/ }).click();
        await page.waitForTimeout(3000);
        // done: the kernel idle and no cell waiting ([*]) twice in a row, a second apart
        await page.waitForFunction(() => {
          const prompts = [...document.querySelectorAll(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt")];
          const indicator = document.querySelector(".jp-Notebook-ExecutionIndicator");
          const idle = prompts.every((p) => !p.innerText.includes("*"))
            && (!indicator || indicator.dataset.status === "idle");
          window.__courseIdle = idle ? (window.__courseIdle || 0) + 1 : 0;
          return window.__courseIdle >= 2;
        }, null, { timeout: nb.runTimeoutMs || 600000, polling: 1000 });
      }
      if (nb.runCellsWith) {
        const cells = page.locator(".jp-NotebookPanel .jp-CodeCell");
        const n = await cells.count();
        let target = -1;
        for (let i = 0; i < n; i++) {
          if ((await cells.nth(i).innerText()).includes(nb.runCellsWith)) { target = i; break; }
        }
        if (target < 1) {
          fail(where, `no code cell (after another) contains ${JSON.stringify(nb.runCellsWith)}`);
        } else {
          for (const i of [target - 1, target]) {
            await cells.nth(i).locator(".jp-InputPrompt").click();
            await page.keyboard.press("Control+Enter");
            await page.waitForFunction((k) => {
              const prompt = document.querySelectorAll(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt")[k];
              return /\[\d+\]/.test(prompt.innerText);
            }, i, { timeout: 120000 });
          }
          await page.waitForTimeout(1000);
          ranOutputs = [await cells.nth(target).locator(".jp-OutputArea").innerText()];
        }
      }
      if (nb.moveSlider) {
        // a live Choice: focus its slider, move it one step, let the views redraw
        // each cell's own output area (an Output widget nests another one inside it)
        const outputs = () => page.evaluate(() => [...document.querySelectorAll(
          ".jp-NotebookPanel .jp-CodeCell .jp-OutputArea")]
          .filter((el) => !el.parentElement.closest(".jp-OutputArea")).map((el) => el.innerText));
        ranOutputs.push((await outputs()).join("\n"));
        const handle = page.locator(".jp-NotebookPanel .widget-slider .noUi-handle").first();
        await handle.waitFor({ timeout: 30000 });
        await handle.focus();
        await page.keyboard.press("ArrowRight");
        await page.waitForTimeout(3000);
        ranOutputs.push((await outputs()).join("\n"));
      }
      const found = await page.evaluate(inspectNotebook);
      if (nb.screenshot) {
        // the first exercise in view: a rendered exercise and its collapsed solution
        const first = page.locator(".jp-NotebookPanel aside.myst-exercise[id]").first();
        if (await first.count()) await first.scrollIntoViewIfNeeded();
        await page.screenshot({ path: nb.screenshot.exercise });
        const cite = page.locator(".jp-NotebookPanel .cite-group").first();
        if (await cite.count()) await cite.scrollIntoViewIfNeeded();
        await page.screenshot({ path: nb.screenshot.citation });
      }
      report.notebooks.push({ path: nb.path, ...found, ranOutputs, pageErrors: consoleErrors });
    } catch (error) {
      fail(where, String(error).slice(0, 800));
      await page.screenshot({ path: `${reportFile}.${nb.path.replace(/\W/g, "_")}.failed.png` }).catch(() => {});
    }
    await page.close();
  }
} finally {
  await browser.close();
}
writeFileSync(reportFile, JSON.stringify(report, null, 2));
