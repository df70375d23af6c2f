// Update-to-paint benchmark of the chart: serves web/dist, opens bench.html in headless Chromium
// at a baseline size and at the measured size, and prints one JSON line with both.
//
// Usage: node e2e/bench_paint.mjs [--candles 50000] [--baseline 500] [--rate 20] [--seconds 10]
//        [--window N] (candles the chart holds; default the app's) [--vsync] (60 Hz pacing)

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from './browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(here, '..', 'dist');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const opts = {
  candles: arg('candles', 50000),
  baseline: arg('baseline', 500),
  rate: arg('rate', 20),
  seconds: arg('seconds', 10),
  window: arg('window', 0),
};

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };

function serve() {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '');
    const file = path.resolve(dist, rel || 'index.html');
    if (!file.startsWith(dist) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function measure(browser, base, candles) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  const win = opts.window ? `&window=${opts.window}` : '';
  const url = `${base}/bench.html?candles=${candles}&rate=${opts.rate}&seconds=${opts.seconds}${win}`;
  await page.goto(url);
  await page.waitForFunction(() => window.__bench, null, { timeout: (opts.seconds + 60) * 1000, polling: 200 });
  const result = await page.evaluate(() => window.__bench);
  await page.close();
  return result;
}

if (!fs.existsSync(path.join(dist, 'bench.html'))) {
  console.error('web/dist/bench.html is missing: run "npm run build" in web/ first');
  process.exit(2);
}
const server = await serve();
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await launch(process.argv.includes('--vsync') ? [] : ['--disable-frame-rate-limit', '--disable-gpu-vsync']);
try {
  const baseline = await measure(browser, base, opts.baseline);
  const loaded = await measure(browser, base, opts.candles);
  console.log(JSON.stringify({ options: opts, baseline, loaded }));
} finally {
  await browser.close();
  server.close();
}
