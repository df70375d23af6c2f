// A page driver for the Python end-to-end tests: one JSON command per line on stdin, one JSON
// answer per line on stdout. The tests decide what to check; this only drives the browser.
//
// Commands: {op: "open", url} | {op: "read", testid, attr?} | {op: "wait", testid, attr?,
// equals?, notEquals?, matches?, timeout?} | {op: "select", testid, value} | {op: "check",
// testid, checked} | {op: "click", testid} | {op: "options", testid} | {op: "count", testid} |
// {op: "screenshot", path} | {op: "chart_candles", chart} (what a chart's series holds, on a page
// opened with ?probe=1) | {op: "chart_drag", testid, dx} (drag a chart dx pixels; > 0 scrolls back
// in time) | {op: "remote_select"|"remote_read", cdp, urlPrefix, testid, value?} |
// {op: "close"}. Answers: {ok: true, value} or {ok: false, error}.

import readline from 'node:readline';
import { chromium } from 'playwright-core';
import { launch } from './browser.mjs';

const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const logs = [];
page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));

const el = (testid) => page.locator(`[data-testid="${testid}"]`).first();

async function value(testid, attr) {
  const loc = el(testid);
  if (attr === 'value') return loc.inputValue();
  if (attr === 'checked') return loc.isChecked();
  if (attr) return loc.getAttribute(attr);
  return (await loc.innerText()).trim();
}

async function waitFor(cmd) {
  const deadline = Date.now() + (cmd.timeout ?? 15000);
  let last = null;
  for (;;) {
    try {
      last = await value(cmd.testid, cmd.attr);
      const ok =
        (cmd.equals === undefined || last === cmd.equals) &&
        (cmd.notEquals === undefined || last !== cmd.notEquals) &&
        (cmd.matches === undefined || new RegExp(cmd.matches).test(String(last)));
      if (ok) return last;
    } catch {
      /* not there yet */
    }
    if (Date.now() > deadline) {
      throw new Error(`waited for ${JSON.stringify(cmd)}; last value ${JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Another browser's page (the simulated broker in the demo's own Chromium), reached over CDP.
let remote = null;
async function remotePage(c) {
  if (!remote) remote = await chromium.connectOverCDP(c.cdp);
  for (const ctx of remote.contexts()) {
    for (const p of ctx.pages()) if (p.url().startsWith(c.urlPrefix)) return p;
  }
  throw new Error(`no page at ${c.urlPrefix} in the browser at ${c.cdp}`);
}

// Drag a chart's plot sideways with the mouse, as a trader scrolls it: dx > 0 goes back in time.
async function dragChart(c) {
  const box = await el(c.testid).boundingBox();
  if (!box) throw new Error(`no chart ${c.testid} on the page`);
  const y = box.y + box.height / 2;
  const from = c.dx > 0 ? box.x + box.width * 0.1 : box.x + box.width * 0.8;
  await page.mouse.move(from, y);
  await page.mouse.down();
  await page.mouse.move(from + c.dx, y, { steps: 10 });
  await page.mouse.up();
  return true;
}

const ops = {
  remote_select: async (c) => (await remotePage(c)).locator(`[data-testid="${c.testid}"]`).selectOption(String(c.value)),
  remote_read: async (c) => (await (await remotePage(c)).locator(`[data-testid="${c.testid}"]`).innerText()).trim(),
  open: async (c) => (await page.goto(c.url), page.url()),
  read: (c) => value(c.testid, c.attr),
  wait: waitFor,
  select: (c) => el(c.testid).selectOption(String(c.value)),
  check: (c) => el(c.testid).setChecked(Boolean(c.checked)),
  click: (c) => el(c.testid).click(),
  fill: (c) => el(c.testid).fill(String(c.value)),
  eval_check: (c) => page.locator(c.selector).first().setChecked(Boolean(c.checked)),
  options: (c) => el(c.testid).locator('option').evaluateAll((os) => os.map((o) => o.value)),
  count: (c) => page.locator(`[data-testid="${c.testid}"]`).count(),
  attrs: (c) =>
    page.locator(c.selector).evaluateAll((els) => els.map((e) => Object.fromEntries([...e.attributes].map((a) => [a.name, a.value])))),
  screenshot: (c) => page.screenshot({ path: c.path, fullPage: true }).then(() => c.path),
  logs: () => logs.slice(-50),
  chart_candles: (c) => page.evaluate((name) => window.__qfProbe?.candles(name) ?? null, c.chart),
  chart_drag: dragChart,
};

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line);
  if (cmd.op === 'close') break;
  try {
    const out = await ops[cmd.op](cmd);
    process.stdout.write(`${JSON.stringify({ ok: true, value: out ?? null })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: String(err.message || err) })}\n`);
  }
}
await browser.close();
process.exit(0);
