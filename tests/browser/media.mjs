// Browser media test: a customer calls from /call, the agent answers in /agent, each in its
// own headless Chromium whose fake microphone plays a tone from a WAV file. Checks that each
// side hears the other's tone, that hold plays hold music to the customer and cuts the
// customer off from the agent, that resume brings the audio back, that a colleague (bob, in a
// third panel) who answers a consult hears the agent, and drives the recording
// (start, mask, unmask, stop) and the end of the call. Fails at the first unmet expectation
// with a non-zero exit; on success prints one `RESULT {json}` line (the call id and the
// recording's server timestamps) for the Rust test that checks `<call id>.wav`.
//
// Environment: BASE_URL (default http://127.0.0.1:8080), CUSTOMER_WAV, AGENT_WAV (48 kHz mono
// 16-bit), CUSTOMER_HZ (default 700), AGENT_HZ (default 1500), CHROMIUM (default
// /usr/bin/chromium). Run: `npm install` once here, then `node media.mjs`.

import {
  apiClient,
  customerState,
  fail,
  launchChromium,
  log,
  pressed,
  run,
  shownError,
  sleep,
  waitFor,
  watchConsole as watchPage,
} from './lib.mjs';
import { existsSync } from 'node:fs';

const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const CUSTOMER_WAV = process.env.CUSTOMER_WAV;
const AGENT_WAV = process.env.AGENT_WAV;
const CUSTOMER_HZ = Number(process.env.CUSTOMER_HZ || 700);
const AGENT_HZ = Number(process.env.AGENT_HZ || 1500);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT_MS = 15_000;
const TONE_TOLERANCE_HZ = 40;
const HOLD_NOTES_HZ = [261.63, 329.63, 392, 523.25];
const HOLD_TOLERANCE_HZ = 25;
const QUEUE = 'support';
const QUEUE_NAME = 'Support';

// ------------------------------------------------------------------------------ the API

const api = apiClient(BASE_URL);

// ------------------------------------------------------------------------------ browsers

async function launch(wav) {
  // A new temporary profile per browser (see launchChromium in lib.mjs).
  const browser = await launchChromium(CHROMIUM, { wav });
  const context = await browser.newContext({ viewport: { width: 360, height: 900 } });
  const page = await context.newPage();
  return { browser, page };
}

const consoleLines = new Map();

function watchConsole(name, page) {
  const lines = [];
  consoleLines.set(name, lines);
  watchPage(page, lines);
}

// ------------------------------------------------------------------------------ measurements

/** The page's inbound audio RTP stats: packets received and the current audio level. */
async function inbound(page) {
  return page.evaluate(async () => {
    const pc = window.switchyard && window.switchyard.pc;
    if (!pc) return null;
    const stats = await pc.getStats();
    let out = null;
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && (s.kind || s.mediaType) === 'audio') {
        out = { packetsReceived: s.packetsReceived || 0, audioLevel: s.audioLevel || 0 };
      }
    });
    return out;
  });
}

/** The dominant frequency of the page's remote stream: an AnalyserNode (fftSize 8192) fed
 * by the remote stream, its magnitude spectrum averaged over `reads` reads `gapMs` apart. */
async function dominant(page, reads = 4, gapMs = 60) {
  return page.evaluate(
    async ({ reads, gapMs }) => {
      const stream = window.switchyard && window.switchyard.remoteStream;
      if (!stream || stream.getAudioTracks().length === 0) throw new Error('no remote stream');
      const t = (window.__probe = window.__probe || {});
      if (!t.ctx) t.ctx = new AudioContext();
      if (t.ctx.state !== 'running') await t.ctx.resume();
      if (t.stream !== stream) {
        if (t.source) t.source.disconnect();
        t.stream = stream;
        t.source = t.ctx.createMediaStreamSource(stream);
        t.analyser = t.ctx.createAnalyser();
        t.analyser.fftSize = 8192;
        t.analyser.smoothingTimeConstant = 0;
        t.source.connect(t.analyser);
        // Let a whole window of audio in first.
        await new Promise((r) => setTimeout(r, (1000 * 8192) / t.ctx.sampleRate + 50));
      }
      const bins = new Float32Array(t.analyser.frequencyBinCount);
      const sum = new Float64Array(bins.length);
      for (let i = 0; i < reads; i++) {
        if (i) await new Promise((r) => setTimeout(r, gapMs));
        t.analyser.getFloatFrequencyData(bins);
        for (let j = 0; j < bins.length; j++) sum[j] += Number.isFinite(bins[j]) ? 10 ** (bins[j] / 20) : 0;
      }
      const binHz = t.ctx.sampleRate / t.analyser.fftSize;
      const from = Math.ceil(100 / binHz);
      let best = from;
      for (let j = from; j < sum.length - 1; j++) if (sum[j] > sum[best]) best = j;
      // Parabolic interpolation between the neighbouring bins.
      const [a, b, c] = [sum[best - 1], sum[best], sum[best + 1]];
      const denom = a - 2 * b + c;
      const shift = denom ? (0.5 * (a - c)) / denom : 0;
      const total = sum.reduce((x, y) => x + y, 0);
      return {
        hz: Math.round((best + shift) * binHz * 10) / 10,
        share: Math.round((1000 * b) / (total || 1)) / 1000,
        peakDb: Math.round(20 * Math.log10(b / reads || 1e-12)),
      };
    },
    { reads, gapMs }
  );
}

const near = (hz, target, tol) => Math.abs(hz - target) <= tol;

async function expectTone(name, page, hz) {
  const seen = await waitFor(
    `${name} to hear ${hz} Hz (±${TONE_TOLERANCE_HZ})`,
    () => dominant(page),
    (d) => d && near(d.hz, hz, TONE_TOLERANCE_HZ)
  );
  log(`${name} hears ${seen.hz} Hz (${seen.peakDb} dB)`);
  return seen;
}

async function expectFlowing(name, page) {
  const s = await waitFor(
    `${name}'s inbound audio to pass 50 packets with a level above 0.01`,
    () => inbound(page),
    (s) => s && s.packetsReceived > 50 && s.audioLevel > 0.01
  );
  log(`${name}: ${s.packetsReceived} packets in, audio level ${s.audioLevel.toFixed(3)}`);
}

// ------------------------------------------------------------------------------ pages

/** Clicks a toggle and waits for the server to confirm its new state. */
async function toggle(page, id, want) {
  await page.click(`#${id}`, { timeout: WAIT_MS });
  await waitFor(
    `#${id} to become aria-pressed=${want}`,
    async () => {
      const err = await shownError(page);
      if (err) fail(`the agent panel shows an error after #${id}: ${err}`);
      return pressed(page, id);
    },
    (v) => v === String(want)
  );
}

async function main() {
  if (!CUSTOMER_WAV || !AGENT_WAV) fail('set CUSTOMER_WAV and AGENT_WAV to the fake microphones’ WAV files');
  for (const f of [CUSTOMER_WAV, AGENT_WAV, CHROMIUM]) if (!existsSync(f)) fail(`missing ${f}`);

  const root = (await api('POST', '/sessions', null, { username: 'root', password: 'demo' })).token;
  log(`server ${BASE_URL} up; root signed in`);

  const agentSide = await launch(AGENT_WAV);
  const customerSide = await launch(CUSTOMER_WAV);
  const browsers = [agentSide.browser, customerSide.browser];
  const agent = agentSide.page;
  const customer = customerSide.page;
  watchConsole('agent', agent);
  watchConsole('customer', customer);
  agent.setDefaultTimeout(WAIT_MS);
  customer.setDefaultTimeout(WAIT_MS);

  try {
    return await scenario(root, agent, customer);
  } catch (e) {
    for (const [name, page] of [
      ['agent', agent],
      ['customer', customer],
    ]) {
      const err = await shownError(page).catch(() => null);
      if (err) console.error(`${name} page shows: ${err}`);
      for (const l of (consoleLines.get(name) || []).slice(-40)) console.error(`${name}: ${l}`);
    }
    throw e;
  } finally {
    await Promise.all(browsers.map((b) => b.close().catch(() => {})));
  }
}

async function scenario(root, agent, customer) {
  // 1. The agent signs in and gets ready; the customer calls.
  log('step 1: agent signs in, customer calls');
  await agent.goto(`${BASE_URL}/agent`);
  await agent.fill('#username', 'alice');
  await agent.fill('#password', 'demo');
  await agent.click('#login');
  await agent.waitForSelector('#status', { state: 'visible' });
  if ((await agent.inputValue('#status')) !== 'ready') await agent.selectOption('#status', 'ready');
  await waitFor(
    'alice to be ready',
    async () => {
      const err = await shownError(agent);
      if (err) fail(`the agent panel shows an error: ${err}`);
      return (await api('GET', '/agents/alice', root)).status;
    },
    (s) => s === 'ready'
  );
  log('alice is ready');

  await customer.goto(`${BASE_URL}/call?queue=${QUEUE}`);
  await customer.waitForSelector('#call:enabled');
  await customer.click('#call');
  const callId = await waitFor(
    'the customer page to place the call',
    async () => {
      const err = await shownError(customer);
      if (err) fail(`the customer page shows an error: ${err}`);
      return customer.evaluate(() => window.switchyard.callId);
    }
  );
  log(`call ${callId} placed; customer page says ${await customerState(customer)}`);

  // 2. The offer rings in the panel.
  log('step 2: offer banner, accept');
  await agent.waitForSelector('#offer', { state: 'visible' });
  const queueShown = await waitFor(
    `the offer banner to name the queue ${QUEUE_NAME}`,
    () => agent.textContent('#offer-queue'),
    (t) => t && t.trim() === QUEUE_NAME
  );
  const offerFrom = (await agent.textContent('#offer-from')).trim();
  const countdown = Number(await agent.textContent('#offer-countdown'));
  if (!offerFrom) fail('the offer banner shows no caller');
  if (!(countdown > 0 && countdown <= 18)) fail(`the offer countdown shows ${countdown}`);
  log(`offer: ${queueShown}, caller ${offerFrom}, ${countdown}s left`);
  // The panel's queue counters (A6): the ringing call counts as ringing in Support, not as
  // waiting for an agent.
  const stats = await waitFor(
    "the panel's Support counters to show the ringing call",
    () => agent.evaluate(() => {
      const row = document.querySelector('#queue-stats [data-queue="support"]');
      return row && !document.getElementById('queue-stats').hidden ? row.textContent : null;
    }),
    (t) => t && /^Support0 waiting · 1 ringing \(longest \d+:\d\d\) · \d+ ready · \d+ on a call$/.test(t)
  );
  log(`queue counters: ${stats}`);
  await agent.click('#accept');
  await agent.waitForSelector('#call', { state: 'visible' });
  await waitFor('the customer page to say connected', () => customerState(customer), (s) => s === 'connected');

  // 3. Audio both ways.
  log('step 3: audio both ways');
  await expectFlowing('agent', agent);
  await expectFlowing('customer', customer);
  await expectTone('agent', agent, CUSTOMER_HZ);
  await expectTone('customer', customer, AGENT_HZ);
  const media = await waitFor(
    'GET /calls/{id}/media to show both legs connected with > 50 packets each way',
    () => api('GET', `/calls/${callId}/media`, root),
    (m) =>
      m &&
      m.bridged &&
      ['customer', 'agent'].every(
        (p) => m.legs[p] && m.legs[p].connected && m.legs[p].packets_received > 50 && m.legs[p].packets_sent > 50
      )
  );
  log(`server media: ${JSON.stringify(media.legs)}`);

  // 4. Hold: hold music to the customer, nothing from the customer to the agent.
  log('step 4: hold');
  await toggle(agent, 'hold', true);
  await waitFor('the customer page to say held', () => customerState(customer), (s) => s === 'held');
  // The customer's timer counts the hold from its start (talk time resumes after it).
  const timer = async () =>
    customer.evaluate(() => {
      const t = document.getElementById('timer');
      const [m, s] = t.textContent.split(':').map(Number);
      return { secs: m * 60 + s, title: t.title };
    });
  const heldAt = await timer();
  if (heldAt.secs > 2 || heldAt.title !== 'Time on hold') fail(`the held customer's timer shows ${JSON.stringify(heldAt)}`);
  const notes = [];
  for (let i = 0; i < 8; i++) {
    const d = await dominant(customer, 2, 40);
    notes.push(d.hz);
    await sleep(150);
  }
  const onNote = notes.filter((hz) => HOLD_NOTES_HZ.some((n) => near(hz, n, HOLD_TOLERANCE_HZ)));
  if (onNote.length * 2 <= notes.length) {
    fail(`the held customer should hear hold music (${HOLD_NOTES_HZ.join(', ')} Hz); heard ${notes.join(', ')} Hz`);
  }
  log(`held customer hears ${notes.join(', ')} Hz (${onNote.length}/${notes.length} on a hold note)`);
  const heldGrowth = await waitFor(
    'the agent to receive (almost) nothing from the held customer: < 5 packets in 1 s',
    async () => {
      const a = await inbound(agent);
      await sleep(1000);
      const b = await inbound(agent);
      return b.packetsReceived - a.packetsReceived;
    },
    (n) => n < 5
  );
  log(`agent received ${heldGrowth} packets in 1 s while the customer was held`);

  // 5. Resume.
  log('step 5: resume');
  const heldLater = await timer();
  if (heldLater.secs < 1) fail(`the hold timer did not count: ${JSON.stringify(heldLater)}`);
  await toggle(agent, 'hold', false);
  await waitFor('the customer page to say connected again', () => customerState(customer), (s) => s === 'connected');
  const talk = await timer();
  if (talk.title !== 'Talk time' || talk.secs <= heldLater.secs) fail(`after the hold the timer shows ${JSON.stringify(talk)}`);
  const resumedGrowth = await waitFor(
    'the agent to receive the customer again: > 25 packets in 1 s',
    async () => {
      const a = await inbound(agent);
      await sleep(1000);
      const b = await inbound(agent);
      return b.packetsReceived - a.packetsReceived;
    },
    (n) => n > 25
  );
  log(`agent receives ${resumedGrowth} packets/s again`);
  await expectTone('agent', agent, CUSTOMER_HZ);

  // 5b. A consult: bob, in a panel of his own, answers and talks with alice (he hears her
  // tone, his leg carries audio both ways); cancel sends him back and alice resumes.
  log('step 5b: consult bob, who hears alice');
  const colleague = await agent.context().newPage();
  watchConsole('colleague', colleague);
  colleague.setDefaultTimeout(WAIT_MS);
  await colleague.goto(`${BASE_URL}/agent`);
  await colleague.fill('#username', 'bob');
  await colleague.fill('#password', 'demo');
  await colleague.click('#login');
  await colleague.waitForSelector('#status', { state: 'visible' });
  if ((await colleague.inputValue('#status')) !== 'ready') await colleague.selectOption('#status', 'ready');
  await waitFor('bob to be ready', async () => (await api('GET', '/agents/bob', root)).status, (s) => s === 'ready');
  await agent.click('#transfer-panel summary');
  await agent.selectOption('#transfer-type', 'agent');
  await agent.fill('#transfer-target', 'bob');
  await agent.click('#consult');
  await colleague.waitForSelector('#offer', { state: 'visible' });
  await colleague.click('#accept');
  await expectFlowing('colleague', colleague);
  await expectTone('colleague', colleague, AGENT_HZ);
  const bobLeg = await waitFor(
    "GET /calls/{id}/media to show bob's leg connected with > 50 packets each way",
    async () => {
      const m = await api('GET', `/calls/${callId}/media`, root);
      return (m.participants || []).find((p) => JSON.stringify(p).includes('"bob"'));
    },
    (p) => p && p.stats.connected && p.stats.packets_received > 50 && p.stats.packets_sent > 50
  );
  log(`bob's leg: ${JSON.stringify(bobLeg.stats)}`);
  await agent.click('#consult-cancel');
  await waitFor(
    "bob's panel to close its audio",
    () => colleague.evaluate(() => window.switchyard.pc === null),
    (closed) => closed
  );
  await waitFor('bob to be ready again', async () => (await api('GET', '/agents/bob', root)).status, (s) => s === 'ready');
  await toggle(agent, 'hold', false);
  await waitFor('the customer page to say connected after the consult', () => customerState(customer), (s) => s === 'connected');
  await expectTone('agent', agent, CUSTOMER_HZ);
  {
    const err = await shownError(colleague);
    if (err) fail(`bob's panel shows an error: ${err}`);
  }
  await colleague.close();

  // 6. Recording with a masked stretch, then the end of the call.
  log('step 6: recording, mask, hang-up, wrap-up');
  // Each stretch lasts until 1.5 s of the customer's audio (75 packets) has reached the
  // server, by its own counters: the recording holds that much, however fast the pages run.
  const customerAudio = async () => {
    const m = await api('GET', `/calls/${callId}/media`, root);
    return m.legs.customer.packets_received;
  };
  const stretch = async (what) => {
    const from = await customerAudio();
    await waitFor(`1.5 s of the customer's audio ${what}`, customerAudio, (n) => n >= from + 75);
  };
  await toggle(agent, 'record', true);
  // In a 300 px CRM panel, "Stop recording" fits its button and the page does not widen.
  await agent.setViewportSize({ width: 300, height: 900 });
  const fit = await agent.evaluate(() => {
    const b = document.getElementById('record');
    return { text: b.textContent, page: document.documentElement.scrollWidth, sw: b.scrollWidth, cw: b.clientWidth };
  });
  await agent.screenshot({ path: `${process.env.SCREENSHOT_DIR || '/tmp'}/agent-300px-recording.png` });
  if (fit.text !== 'Stop recording') fail(`the record button says ${JSON.stringify(fit.text)}`);
  if (fit.page > 300) fail(`the panel is ${fit.page} px wide at 300 px`);
  if (fit.sw > fit.cw + 1) fail(`"Stop recording" is clipped: ${fit.sw} px in ${fit.cw} px`);
  await agent.setViewportSize({ width: 360, height: 900 });
  await stretch('recorded');
  await toggle(agent, 'mask', true);
  await stretch('masked');
  await toggle(agent, 'mask', false);
  await stretch('recorded again');
  await toggle(agent, 'record', false);
  await agent.click('#hangup');
  await agent.waitForSelector('#wrap-up', { state: 'visible' });
  await waitFor('the customer page to say ended', () => customerState(customer), (s) => s === 'ended');
  const closed = await waitFor(
    'both pages to close their peer connections',
    () =>
      Promise.all([agent, customer].map((p) => p.evaluate(() => window.switchyard.pc === null))),
    (v) => v.every(Boolean)
  );
  if (!closed) fail('peer connections still open');
  await agent.click('#end-wrap-up');
  await agent.waitForSelector('#wrap-up', { state: 'hidden' });
  const after = await api('GET', '/agents/alice', root);
  if (after.status === 'after_service') fail('alice is still in wrap-up after #end-wrap-up');
  for (const [name, page] of [
    ['agent', agent],
    ['customer', customer],
  ]) {
    const err = await shownError(page);
    if (err) fail(`the ${name} page shows an error at the end: ${err}`);
  }
  log(`wrap-up ended; alice is ${after.status}`);

  // 7. The result, with the recording's moments as the server logged them.
  const call = await api('GET', `/calls/${callId}`, root);
  if (call.state !== 'ended') fail(`call ${callId} is ${call.state}, not ended`);
  const rec = call.journey.filter((j) => j.event === 'recording');
  const at = (state, nth = 0) => (rec.filter((j) => j.state === state)[nth] || {}).at ?? null;
  return {
    call_id: callId,
    answered_at_ms: call.answered_at,
    ended_at_ms: call.ended_at,
    record_started_ms: at('on', 0),
    mask_started_ms: at('masked', 0),
    mask_ended_ms: at('on', 1),
    record_stopped_ms: at('off', 0),
    held_packets_per_s: heldGrowth,
    hold_notes_hz: notes,
  };
}

run(main);
