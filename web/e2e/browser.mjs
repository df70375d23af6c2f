// Launching the system Chromium through playwright-core (no browser download needed).

import { chromium } from 'playwright-core';

export const CHROME_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A headless Chromium from QF_CHROME_BIN or /usr/bin/chromium. */
export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.QF_CHROME_BIN || '/usr/bin/chromium',
    headless: true,
    args: [...CHROME_FLAGS, ...extraArgs],
  });
}
