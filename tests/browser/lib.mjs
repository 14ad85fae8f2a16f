// Helpers shared by the browser test scripts (media.mjs, transcript.mjs, cti.mjs, shim.mjs,
// salesforce.mjs): logging with the elapsed time, sleep, Failure/fail, waitFor (polling with a
// deadline), the REST API client, launching headless Chromium with the standard flags, console
// watching, and the main().then(RESULT)/catch(exit 1) wrapper. Each script keeps its own
// environment variables, scenario and messages.

import { chromium } from 'playwright-core';

const t0 = Date.now();

/** Prints `msg` after the seconds elapsed since the script started. */
export const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An unmet expectation: printed without its stack. */
export class Failure extends Error {}
export const fail = (msg) => {
  throw new Failure(msg);
};

/** Polls `probe` until `check(value)` holds; fails with `what` and the last value seen. */
export async function waitFor(what, probe, check = (v) => !!v, timeoutMs = 15_000, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  let lastError;
  for (;;) {
    try {
      last = await probe();
      lastError = undefined;
      if (check(last)) return last;
    } catch (e) {
      if (e instanceof Failure) throw e;
      lastError = e;
    }
    if (Date.now() > deadline) {
      const seen = lastError ? `error: ${lastError.message}` : `last seen: ${JSON.stringify(last)}`;
      fail(`timed out after ${timeoutMs / 1000}s waiting for ${what} (${seen})`);
    }
    await sleep(everyMs);
  }
}

/** `api(method, path, token, body)` for the server at `baseUrl`: the answer's JSON (or text). */
export function apiClient(baseUrl) {
  return async function api(method, path, token, body) {
    const res = await fetch(`${baseUrl}/api/v1${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    // Not a Failure: a wait may retry it.
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    return data;
  };
}

/** A call left over by an earlier, failed run would take alice: end it first. */
export async function resetAlice(api, root) {
  let a = await api('GET', '/agents/alice', root);
  if (a.call_id) {
    log(`ending call ${a.call_id} left over on alice`);
    await api('POST', `/calls/${a.call_id}/hangup`, root, { party: 'customer' }).catch((e) => log(e.message));
    a = await api('GET', '/agents/alice', root);
  }
  if (a.status === 'after_service') await api('POST', '/agents/alice/wrap-up/end', root);
}

/**
 * Launches headless Chromium (`executablePath`) with the standard flags. chromium.launch gives
 * every browser its own new temporary profile (Playwright passes --user-data-dir itself and
 * refuses it in `args`), and removes it on close. `media` (default true) adds the fake
 * microphone/camera flags; `wav` makes the fake microphone play that file.
 */
export function launchChromium(executablePath, { media = true, wav } = {}) {
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ];
  if (media) {
    args.push('--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream');
    if (wav !== undefined) args.push(`--use-file-for-fake-audio-capture=${wav}`);
    args.push('--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required');
  }
  return chromium.launch({ executablePath, headless: true, args });
}

/**
 * Pushes `page`'s console errors and warnings and its uncaught errors into `lines`, each
 * prefixed with `prefix`; with `api` (default true) also the page's API traffic (status,
 * method, path), for the failure report.
 */
export function watchConsole(page, lines, { prefix = '', api = true } = {}) {
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') lines.push(`${prefix}${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => lines.push(`${prefix}pageerror: ${e.message}`));
  if (api) {
    page.on('response', (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith('/api/')) lines.push(`${prefix}${r.status()} ${r.request().method()} ${u.pathname}`);
    });
  }
}

/** The error a page (or frame) shows in #error, if any. */
export async function shownError(page) {
  return page.evaluate(() => {
    const el = document.getElementById('error');
    return el && !el.hidden ? document.getElementById('error-text').textContent : null;
  });
}

export async function pressed(page, id) {
  return page.getAttribute(`#${id}`, 'aria-pressed');
}

/** The /call page's state (its #state data-state). */
export async function customerState(page) {
  return page.getAttribute('#state', 'data-state');
}

/** Runs `main`: prints `RESULT {json}` with its answer and exits 0, or prints FAIL and exits 1. */
export function run(main) {
  main().then(
    (result) => {
      console.log(`RESULT ${JSON.stringify(result)}`);
      process.exit(0);
    },
    (e) => {
      console.error(`FAIL: ${e instanceof Failure || e.name === 'TimeoutError' ? e.message : e.stack || e}`);
      process.exit(1);
    }
  );
}
