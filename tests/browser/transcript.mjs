// Browser live-transcript test: a supervisor watches /supervisor, an agent answers in /agent
// and a customer calls from /call, each in its own headless Chromium whose fake microphone
// plays a WAV with speech. Checks that the supervisor page lists the call as connected and
// shows its transcript for both legs (words, at least one final), that the agent panel shows
// the transcript too, that hold shows a "paused (hold)" marker for both legs and stops the
// words (no new line for 3 s), that resume clears the markers and brings new words, and that
// the panel clears its transcript when the call ends; and that a queue alert raised over the
// API shows under the wallboard. Fails at the first unmet expectation
// with a non-zero exit; on success prints one `RESULT {json}` line with counts and timings.
//
// NO_MODEL=1 (a server without a whisper model): checks instead that the supervisor page and
// the agent panel, during a call, say that live transcription is off, and show no words.
//
// Environment: BASE_URL (default http://127.0.0.1:8080), CUSTOMER_WAV, AGENT_WAV (48 kHz mono
// 16-bit, with speech), CHROMIUM (default /usr/bin/chromium), NO_MODEL, WORDS_WAIT_S (how
// long to wait for words, default 60). Run: `npm install` once here, then `node
// transcript.mjs`. The server must run the demo setup (alice, sam, root; queue support with
// transcript = "both").

import {
  apiClient,
  customerState,
  fail,
  launchChromium,
  log,
  pressed,
  run,
  resetAlice,
  shownError,
  sleep,
  waitFor,
  watchConsole as watchPage,
} from './lib.mjs';
import { existsSync } from 'node:fs';

const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const CUSTOMER_WAV = process.env.CUSTOMER_WAV;
const AGENT_WAV = process.env.AGENT_WAV;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const NO_MODEL = !!process.env.NO_MODEL && process.env.NO_MODEL !== '0';
const WAIT_MS = 15_000;
// Words need a few utterances decoded by the server's whisper workers: slower than signalling.
const WORDS_WAIT_MS = Number(process.env.WORDS_WAIT_S || 60) * 1000;
const HOLD_WINDOW_MS = 3_000;
const QUEUE = 'support';

// ------------------------------------------------------------------------------ the API

const api = apiClient(BASE_URL);

// ------------------------------------------------------------------------------ browsers

async function launch(wav, viewport) {
  // A new temporary profile per browser (see launchChromium in lib.mjs).
  const browser = await launchChromium(CHROMIUM, { wav });
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  return { browser, page };
}

const consoleLines = new Map();

function watchConsole(name, page) {
  const lines = [];
  consoleLines.set(name, lines);
  watchPage(page, lines);
}

async function noError(name, page) {
  const err = await shownError(page);
  if (err) fail(`the ${name} page shows an error: ${err}`);
}

// ------------------------------------------------------------------------------ transcripts

/** The transcript lines and pause markers inside `root` (a selector). */
async function transcriptIn(page, root) {
  return page.evaluate((root) => {
    const box = document.querySelector(root);
    if (!box) return null;
    const lines = [...box.querySelectorAll('.line')].map((l) => ({
      id: l.dataset.id,
      leg: l.dataset.leg,
      stability: l.dataset.stability,
      text: (l.querySelector('.text') || l).textContent.trim(),
    }));
    const paused = [...box.querySelectorAll('.paused')].map((p) => ({ leg: p.dataset.leg, reason: p.dataset.reason }));
    return { callId: box.dataset.callId, visible: !!box.offsetParent, lines, paused };
  }, root);
}

const SUP_BOX = '#transcript';
const PANEL_BOX = '#transcript-panel';

function counts(t) {
  const c = { agent: { partial: 0, final: 0 }, customer: { partial: 0, final: 0 } };
  for (const l of t ? t.lines : []) if (c[l.leg] && c[l.leg][l.stability] !== undefined) c[l.leg][l.stability]++;
  return c;
}

const hasWords = (t, leg) => !!t && t.lines.some((l) => l.leg === leg && l.text.length > 0);
const finals = (t) => (t ? t.lines.filter((l) => l.stability === 'final' && l.text.length > 0).length : 0);
const pausedFor = (t, reason) => new Set((t ? t.paused : []).filter((p) => p.reason === reason).map((p) => p.leg));

async function callState(sup, callId) {
  return sup.evaluate((id) => {
    const li = document.querySelector(`#calls li[data-call-id="${CSS.escape(id)}"]`);
    return li ? li.dataset.state : null;
  }, callId);
}

// ------------------------------------------------------------------------------ pages

/** The supervisor's wallboard row for a queue, as text per cell. */
async function wallboard(sup, queue) {
  return sup.evaluate((q) => {
    const tr = document.querySelector(`#wallboard-rows tr[data-queue="${CSS.escape(q)}"]`);
    if (!tr) return null;
    const cell = (c) => tr.querySelector(`.${c}`).textContent.trim();
    return {
      waiting: cell('waiting'), ringing: cell('ringing'), longest: cell('longest'), sl: cell('sl'), ready: cell('ready'),
      on_call: cell('on-call'), wrap_up: cell('wrap-up'), away: cell('away'),
    };
  }, queue);
}

async function signIn(page, path, username) {
  await page.goto(`${BASE_URL}${path}`);
  await page.fill('#username', username);
  await page.fill('#password', 'demo');
  await page.click('#login');
}

/** Clicks a toggle and waits for the server to confirm its new state. */
async function toggle(page, id, want) {
  await page.click(`#${id}`);
  await waitFor(
    `#${id} to become aria-pressed=${want}`,
    async () => {
      await noError('agent', page);
      return pressed(page, id);
    },
    (v) => v === String(want)
  );
}

async function main() {
  if (!CUSTOMER_WAV || !AGENT_WAV) fail('set CUSTOMER_WAV and AGENT_WAV to the fake microphones’ WAV files');
  for (const f of [CUSTOMER_WAV, AGENT_WAV, CHROMIUM]) if (!existsSync(f)) fail(`missing ${f}`);

  const root = (await api('POST', '/sessions', null, { username: 'root', password: 'demo' })).token;
  const tx = await api('GET', '/transcription', root);
  log(`server ${BASE_URL} up; transcription ${tx.enabled ? `on (${tx.model})` : 'off'}`);
  if (NO_MODEL && tx.enabled) fail('NO_MODEL is set but the server transcribes: run it without a whisper model');
  if (!NO_MODEL && !tx.enabled) fail('the server has no whisper model: configure one, or set NO_MODEL=1');
  if (!NO_MODEL) {
    const q = (tx.queues || []).find((x) => x.queue === QUEUE);
    if (!q || q.mode !== 'both') fail(`queue ${QUEUE} should transcribe both legs; GET /transcription: ${JSON.stringify(tx.queues)}`);
  }
  await resetAlice(api, root);

  // Each browser has its own temporary profile and its own fake microphone (the supervisor's
  // is never opened).
  const sides = {
    supervisor: await launch(CUSTOMER_WAV, { width: 1280, height: 800 }),
    agent: await launch(AGENT_WAV, { width: 300, height: 900 }),
    customer: await launch(CUSTOMER_WAV, { width: 360, height: 700 }),
  };
  for (const [name, s] of Object.entries(sides)) watchConsole(name, s.page);
  try {
    return await scenario(root, sides.supervisor.page, sides.agent.page, sides.customer.page);
  } catch (e) {
    for (const [name, s] of Object.entries(sides)) {
      const err = await shownError(s.page).catch(() => null);
      if (err) console.error(`${name} page shows: ${err}`);
      for (const l of (consoleLines.get(name) || []).slice(-30)) console.error(`${name}: ${l}`);
    }
    throw e;
  } finally {
    await Promise.all(Object.values(sides).map((s) => s.browser.close().catch(() => {})));
  }
}

async function scenario(root, sup, agent, customer) {
  // 1. The supervisor signs in; the agent signs in and gets ready; the customer calls.
  log('step 1: supervisor and agent sign in, customer calls');
  await signIn(sup, '/supervisor', 'sam');
  await sup.waitForSelector('#workspace', { state: 'visible' });
  const supState = await waitFor(
    '#transcription-state to say whether transcription is on',
    async () => {
      await noError('supervisor', sup);
      const el = await sup.$('#transcription-state');
      return {
        enabled: await el.getAttribute('data-enabled'),
        text: (await el.textContent()).trim(),
        visible: await el.isVisible(),
      };
    },
    (s) => s.enabled === String(!NO_MODEL) && s.visible
  );
  if (NO_MODEL && !/off/i.test(supState.text)) fail(`the supervisor page should say transcription is off; it says "${supState.text}"`);
  log(`supervisor page: "${supState.text}"`);

  await signIn(agent, '/agent', 'alice');
  await agent.waitForSelector('#status', { state: 'visible' });
  if ((await agent.inputValue('#status')) !== 'ready') await agent.selectOption('#status', 'ready');
  await waitFor(
    'alice to be ready',
    async () => {
      await noError('agent', agent);
      return (await api('GET', '/agents/alice', root)).status;
    },
    (s) => s === 'ready'
  );

  await customer.goto(`${BASE_URL}/call?queue=${QUEUE}`);
  await customer.waitForSelector('#call:enabled');
  await customer.click('#call');
  const callId = await waitFor('the customer page to place the call', async () => {
    await noError('customer', customer);
    return customer.evaluate(() => window.switchyard.callId);
  });
  log(`call ${callId} placed`);
  const listedAs = await waitFor(`the supervisor page to list call ${callId}`, () => callState(sup, callId));
  log(`supervisor lists the call as ${listedAs}`);
  // The wallboard (J1) counts it: ringing alice (offering), not waiting for an agent.
  await agent.waitForSelector('#offer', { state: 'visible' });
  const ringing = await waitFor(
    'the wallboard to count the call as ringing, not waiting',
    () => wallboard(sup, QUEUE),
    (w) => w && w.waiting === '0' && w.ringing === '1'
  );
  log(`wallboard while it rings: ${JSON.stringify(ringing)}`);
  if (ringing.longest === '—') fail(`the wallboard shows no longest wait for a waiting call: ${JSON.stringify(ringing)}`);

  // 2. The agent accepts; the supervisor sees it connected and picks it.
  log('step 2: accept');
  await agent.waitForSelector('#offer', { state: 'visible' });
  await agent.click('#accept');
  await agent.waitForSelector('#call', { state: 'visible' });
  const acceptedAt = Date.now();
  await waitFor('the customer page to say connected', () => customerState(customer), (s) => s === 'connected');
  await waitFor('the supervisor page to list the call as connected', () => callState(sup, callId), (s) => s === 'connected');
  const talking = await waitFor(
    'the wallboard to show nobody waiting, alice on a call, and the answer in time',
    () => wallboard(sup, QUEUE),
    (w) => w && w.waiting === '0' && w.ringing === '0' && w.on_call === '1' && w.longest === '—' && w.sl === '100 %'
  );
  log(`wallboard while talking: ${JSON.stringify(talking)}`);
  // A queue alert (what an SLA watcher raises; here over the API) shows under the wallboard
  // and marks the queue's row.
  const alertText = 'a call waited 95 s: anyone may take it';
  await api('POST', `/queues/${QUEUE}/alerts`, root, { text: alertText, severity: 'critical' });
  const shownAlert = await waitFor(
    'the queue alert under the wallboard, and its row marked',
    () =>
      sup.evaluate((q) => {
        const li = document.querySelector(`#queue-alerts li[data-queue="${CSS.escape(q)}"]`);
        const row = document.querySelector(`#wallboard-rows tr[data-queue="${CSS.escape(q)}"]`);
        if (!li || li.closest('[hidden]')) return null;
        return { severity: li.dataset.severity, text: li.querySelector('.text').textContent, row: row && row.dataset.alert };
      }, QUEUE),
    (a) => a && a.severity === 'critical' && a.text === alertText && a.row === 'critical'
  );
  log(`queue alert shown: ${JSON.stringify(shownAlert)}`);
  await sup.screenshot({ path: `${process.env.SCREENSHOT_DIR || '/tmp'}/supervisor-wallboard.png` });
  await sup.click(`#calls li[data-call-id="${callId}"] button`);
  await waitFor('#transcript to show the call', () => sup.getAttribute(SUP_BOX, 'data-call-id'), (id) => id === callId);

  if (NO_MODEL) return noModel(sup, agent, customer, callId);

  // 3. Words from both legs, on the supervisor page and in the panel.
  log('step 3: transcript on both pages');
  let firstLineMs = null;
  const supT = await waitFor(
    'the supervisor page to show words from both legs, at least one final',
    async () => {
      await noError('supervisor', sup);
      const t = await transcriptIn(sup, SUP_BOX);
      if (firstLineMs === null && t && t.lines.length) firstLineMs = Date.now() - acceptedAt;
      return t;
    },
    (t) => t && t.visible && hasWords(t, 'agent') && hasWords(t, 'customer') && finals(t) >= 1,
    WORDS_WAIT_MS,
    100
  );
  const bothLegsMs = Date.now() - acceptedAt;
  // The customer's own words, on the customer's lines (the fake microphone loops the sentence).
  if (process.env.CUSTOMER_SAYS) {
    const norm = (t) => t.toLowerCase().replace(/[^a-z0-9' ]+/g, ' ').split(/\s+/).filter(Boolean);
    const want = norm(process.env.CUSTOMER_SAYS);
    const heard = await waitFor(
      "a final on the customer's lines with most of the customer's words",
      () => transcriptIn(sup, SUP_BOX),
      // A sentence is committed in pieces: up to four consecutive finals of the customer's.
      (t) => {
        if (!t) return false;
        const fin = t.lines.filter((l) => l.leg === 'customer' && l.stability === 'final').map((l) => norm(l.text));
        for (let i = 0; i < fin.length; i++) {
          for (let k = 1; k <= 4 && i + k <= fin.length; k++) {
            const got = fin.slice(i, i + k).flat();
            if (want.filter((w) => got.includes(w)).length >= Math.ceil(want.length * 0.8)) return true;
          }
        }
        return false;
      },
      WORDS_WAIT_MS,
      100
    );
    const said = heard.lines.filter((l) => l.leg === 'customer' && l.stability === 'final');
    log(`customer said "${process.env.CUSTOMER_SAYS}"; the supervisor read: ${JSON.stringify(said.map((l) => l.text))}`);
    // The queue's keyword alert (J4), raised by the real model's final: on the call's row,
    // on the line that said it, and in the call's alert list.
    if (process.env.ALERT_PHRASE) {
      const phrase = process.env.ALERT_PHRASE;
      const alert = await waitFor(
        `the supervisor page to highlight the alert "${phrase}"`,
        () =>
          sup.evaluate(({ id, phrase }) => {
            const li = document.querySelector(`#calls li[data-call-id="${CSS.escape(id)}"]`);
            const flag = li && li.querySelector('.alert-flag');
            const line = document.querySelector('#transcript .line.alert[data-alert]');
            const listed = [...document.querySelectorAll('#transcript-alerts li.alert')].map((a) => a.textContent);
            return {
              row: li ? li.dataset.alert || null : null,
              flag: flag && !flag.hidden ? flag.textContent : null,
              line: line ? line.dataset.alert : null,
              listed,
              phrase,
            };
          }, { id: callId, phrase }),
        (a) => a && a.row && a.flag && a.flag.includes(a.phrase) && a.line && a.listed.some((t) => t.includes(a.phrase)),
        WORDS_WAIT_MS,
        100
      );
      log(`keyword alert shown: ${JSON.stringify(alert)}`);
    }
    for (const l of heard.lines) {
      const w = norm(l.text);
      for (let i = 0; i + 3 <= w.length; i++) {
        const gram = w.slice(i, i + 3).join(' ');
        for (let j = i + 3; j + 3 <= w.length; j++) {
          if (w.slice(j, j + 3).join(' ') === gram) fail(`a line says "${gram}" twice: "${l.text}"`);
        }
      }
    }
    const agentLines = heard.lines.filter((l) => l.leg === 'agent').map((l) => norm(l.text).join(' '));
    if (agentLines.some((t) => t.includes('cancel my subscription'))) fail(`the customer's words on the agent's lines: ${JSON.stringify(agentLines)}`);
  }
  log(`supervisor: ${JSON.stringify(counts(supT))} (first line ${firstLineMs} ms after accept, both legs with a final ${bothLegsMs} ms)`);
  log(`  e.g. "${supT.lines.filter((l) => l.stability === 'final').slice(-1)[0].text.slice(0, 80)}"`);
  const panelT = await waitFor(
    "the agent panel's #transcript-panel to show words",
    async () => {
      await noError('agent', agent);
      return transcriptIn(agent, PANEL_BOX);
    },
    (t) => t && t.visible && t.lines.some((l) => l.text.length > 0),
    WORDS_WAIT_MS
  );
  const panelEnabled = await agent.getAttribute('#transcript-state', 'data-enabled');
  if (panelEnabled !== 'true') fail(`#transcript-state data-enabled is ${panelEnabled} on a transcribed call`);
  log(`agent panel: ${JSON.stringify(counts(panelT))}`);

  // 4. Hold: both legs paused, no new words.
  log('step 4: hold');
  const holdClick = Date.now();
  await toggle(agent, 'hold', true);
  const held = await waitFor(
    'the supervisor page to show .paused[data-reason=hold] for both legs',
    () => transcriptIn(sup, SUP_BOX),
    (t) => pausedFor(t, 'hold').has('agent') && pausedFor(t, 'hold').has('customer'),
    WORDS_WAIT_MS,
    100
  );
  const pauseMarkersMs = Date.now() - holdClick;
  await waitFor('the supervisor page to list the call as held', () => callState(sup, callId), (s) => s === 'held');
  await waitFor(
    'the agent panel to show the hold markers too',
    () => transcriptIn(agent, PANEL_BOX),
    (t) => pausedFor(t, 'hold').size === 2
  );
  log(`hold markers for both legs ${pauseMarkersMs} ms after the click; measuring ${HOLD_WINDOW_MS} ms`);
  // A fixed measuring window on purpose: nothing may arrive during it.
  const before = new Set(held.lines.map((l) => l.id));
  await sleep(HOLD_WINDOW_MS);
  const afterHold = await transcriptIn(sup, SUP_BOX);
  const added = afterHold.lines.filter((l) => !before.has(l.id));
  if (afterHold.lines.length > held.lines.length || added.length) {
    fail(`new transcript lines while held: ${held.lines.length} -> ${afterHold.lines.length}: ${JSON.stringify(added)}`);
  }
  if (pausedFor(afterHold, 'hold').size !== 2) fail(`the hold markers went away while held: ${JSON.stringify(afterHold.paused)}`);

  // 5. Resume: markers gone, new words.
  log('step 5: resume');
  const known = new Set(afterHold.lines.map((l) => l.id));
  const resumeClick = Date.now();
  await toggle(agent, 'hold', false);
  await waitFor(
    'the pause markers to go on the supervisor page',
    () => transcriptIn(sup, SUP_BOX),
    (t) => t && t.paused.length === 0
  );
  await waitFor('the agent panel to drop its pause markers', () => transcriptIn(agent, PANEL_BOX), (t) => t && t.paused.length === 0);
  const resumed = await waitFor(
    'new transcript lines after resume',
    () => transcriptIn(sup, SUP_BOX),
    (t) => t && t.lines.some((l) => !known.has(l.id) && l.text.length > 0),
    WORDS_WAIT_MS,
    100
  );
  const newWordsMs = Date.now() - resumeClick;
  const fresh = resumed.lines.filter((l) => !known.has(l.id));
  log(`new words ${newWordsMs} ms after resume: ${JSON.stringify(fresh.map((l) => [l.leg, l.stability]))}`);
  const final = await transcriptIn(sup, SUP_BOX);

  // 6. The end: the panel's transcript goes with the call.
  log('step 6: hang-up, wrap-up');
  await agent.click('#hangup');
  await agent.waitForSelector('#wrap-up', { state: 'visible' });
  await waitFor('the customer page to say ended', () => customerState(customer), (s) => s === 'ended');
  await waitFor(
    'the agent panel to clear its transcript',
    () =>
      agent.evaluate(() => ({
        hidden: document.getElementById('transcript-panel').hidden,
        lines: document.querySelectorAll('#transcript-panel .line').length,
      })),
    (v) => v.hidden && v.lines === 0
  );
  await waitFor(
    'the supervisor page to move the call to Recent',
    () => sup.evaluate((id) => {
      const li = document.querySelector(`li[data-call-id="${CSS.escape(id)}"]`);
      return li ? `${li.parentElement.id}:${li.dataset.state}` : null;
    }, callId),
    (v) => v === 'recent:ended'
  );
  await agent.click('#end-wrap-up');
  await agent.waitForSelector('#wrap-up', { state: 'hidden' });
  for (const [name, page] of [['supervisor', sup], ['agent', agent], ['customer', customer]]) await noError(name, page);

  return {
    call_id: callId,
    supervisor_lines: counts(final),
    panel_lines_at_first_check: counts(panelT),
    lines_in_hold_window: afterHold.lines.length - held.lines.length,
    new_lines_after_resume: fresh.length,
    ms: {
      first_line_after_accept: firstLineMs,
      both_legs_and_a_final_after_accept: bothLegsMs,
      hold_markers_after_click: pauseMarkersMs,
      new_words_after_resume: newWordsMs,
    },
  };
}

/** Without a model: both pages say transcription is off, during a call too. */
async function noModel(sup, agent, customer, callId) {
  log('step 3: both pages say transcription is off');
  const note = await waitFor(
    "the supervisor's transcript pane to say transcription is off",
    () => sup.textContent('#transcript-note'),
    (t) => /off/i.test(t || '')
  );
  await agent.waitForSelector('#transcript-panel', { state: 'visible' });
  const panel = await waitFor(
    '#transcript-state in the panel to say transcription is off',
    async () => ({
      enabled: await agent.getAttribute('#transcript-state', 'data-enabled'),
      text: (await agent.textContent('#transcript-state')).trim(),
      visible: await agent.isVisible('#transcript-state'),
    }),
    (s) => s.enabled === 'false' && s.visible && /off/i.test(s.text)
  );
  log(`supervisor: "${note.trim()}"; panel: "${panel.text}"`);
  const lines = (await transcriptIn(sup, SUP_BOX)).lines.length + (await transcriptIn(agent, PANEL_BOX)).lines.length;
  if (lines) fail(`transcript lines shown with transcription off: ${lines}`);
  await agent.click('#hangup');
  await agent.waitForSelector('#wrap-up', { state: 'visible' });
  await waitFor('the customer page to say ended', () => customerState(customer), (s) => s === 'ended');
  await agent.click('#end-wrap-up');
  await agent.waitForSelector('#wrap-up', { state: 'hidden' });
  for (const [name, page] of [['supervisor', sup], ['agent', agent], ['customer', customer]]) await noError(name, page);
  return { call_id: callId, no_model: true, supervisor_note: note.trim(), panel_state: panel.text };
}

run(main);
