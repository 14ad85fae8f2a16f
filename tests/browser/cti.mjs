// Browser CTI test: the CRM demo page (/crm-demo) hosts the agent panel (/agent) in an iframe
// through /cti/switchyard-host.js, and the panel does its CRM work only through Open CTI
// (/cti/opencti-shim.js). In one headless Chromium (fake microphone from AGENT_WAV):
//   1. the panel (signed in as alice from inside the iframe, Ready) connects to the host and
//      enables click-to-dial;
//   2. a call from +15550123 (made through the REST API as root) rings: the host page
//      screen-pops that number's contact (#record), the panel shows the match;
//   3. alice accepts: the form's Name (who) is prefilled with the contact's id and saved;
//      a Related To the server refuses (422) shows in #error; she picks a disposition,
//      tags and notes in the panel form (saved through PUT /calls/{id}/cti, checked
//      through the API), hangs up and ends her wrap-up;
//   4. the host page lists the call's log (saveLog) with that disposition, tags and notes;
//   5. click-to-dial: a click on +15550777 in the host page makes the panel dial out (the
//      call shows as dialing in the API), alice gives it up from the panel; the clicked
//      contact becomes the dialed call's Name during its wrap-up; she ends the wrap-up.
// Fails at the first unmet expectation with a non-zero exit; on success prints one
// `RESULT {json}` line: {call_id, dialed_call_id, data (the call's data as GET
// /calls/{id}/cti has it: {disposition, tags, notes, who, what}), disposition, tags, notes,
// who} (the Rust test checks its webhook receiver got the call's log with the same data).
//
// Environment: BASE_URL (default http://127.0.0.1:8080), AGENT_WAV (48 kHz mono 16-bit),
// CHROMIUM (default /usr/bin/chromium). Run: `npm install` once here, then `node cti.mjs`.
// The server must run the demo setup (alice, root; queue support with outbound = true,
// dispositions resolved/callback/escalated; tags billing/vip/complaint).

import {
  apiClient,
  fail,
  launchChromium,
  log,
  resetAlice,
  run,
  shownError,
  waitFor,
  watchConsole as watchPage,
} from './lib.mjs';
import { existsSync } from 'node:fs';

const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const AGENT_WAV = process.env.AGENT_WAV;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT_MS = 15_000;
const QUEUE = 'support';
const CALLER = '+15550123';
const CALLER_ID = '003000000000001'; // Ada Lovelace (Contact) in /crm-demo
const DIALED = '+15550777';
const DIALED_ID = '003000000000002'; // Grace Hopper (Contact)
const DISPOSITION = 'callback';
const TAGS = ['billing', 'vip'];
const NOTES = 'Wants a refund for the May invoice; call back on Friday.';

// ------------------------------------------------------------------------------ the API

const api = apiClient(BASE_URL);

// ------------------------------------------------------------------------------ the browser

async function launch(wav) {
  const browser = await launchChromium(CHROMIUM, { wav });
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  return { browser, page };
}

const consoleLines = [];

function watchConsole(page) {
  watchPage(page, consoleLines);
}

async function noError(frame, when) {
  const err = await shownError(frame);
  if (err) fail(`the panel shows an error ${when}: ${err}`);
}

const attr = (frameOrPage, selector, name) =>
  frameOrPage.evaluate(
    ({ selector, name }) => {
      const el = document.querySelector(selector);
      return el ? el.getAttribute(name) : null;
    },
    { selector, name }
  );

/** The host page's log row of a call: {disposition, tags, notes} or null. */
async function hostLog(page, callId) {
  return page.evaluate((id) => {
    const li = document.querySelector(`#logs li[data-call-id="${CSS.escape(id)}"]`);
    if (!li) return null;
    const text = (sel) => (li.querySelector(sel) || { textContent: '' }).textContent.trim();
    return { disposition: text('.disposition'), tags: text('.tags'), notes: text('.notes'), recordId: li.dataset.recordId };
  }, callId);
}

async function main() {
  if (!AGENT_WAV) fail('set AGENT_WAV to the fake microphone’s WAV file');
  for (const f of [AGENT_WAV, CHROMIUM]) if (!existsSync(f)) fail(`missing ${f}`);

  const root = (await api('POST', '/sessions', null, { username: 'root', password: 'demo' })).token;
  log(`server ${BASE_URL} up; root signed in`);
  await resetAlice(api, root);

  const { browser, page } = await launch(AGENT_WAV);
  watchConsole(page);
  page.setDefaultTimeout(WAIT_MS);
  let frame = null;
  try {
    return await scenario(root, page, (f) => (frame = f));
  } catch (e) {
    const err = frame ? await shownError(frame).catch(() => null) : null;
    if (err) console.error(`panel shows: ${err}`);
    for (const l of consoleLines.slice(-50)) console.error(`page: ${l}`);
    throw e;
  } finally {
    await browser.close().catch(() => {});
  }
}

async function scenario(root, page, keepFrame) {
  // 1. The host page, the panel inside it, alice signed in and ready.
  log('step 1: /crm-demo, panel connects, alice signs in');
  await page.goto(`${BASE_URL}/crm-demo`);
  const frame = await waitFor('the panel iframe to load /agent', async () => {
    const f = await (await page.$('#panel')).contentFrame();
    return f && f.url().includes('/agent') ? f : null;
  });
  keepFrame(frame);
  await waitFor(
    'the panel to connect to the host (#cti-state data-state=connected)',
    () => attr(frame, '#cti-state', 'data-state'),
    (s) => s === 'connected'
  );
  await waitFor(
    'the host page to see the panel (#panel-state data-connected=true)',
    () => attr(page, '#panel-state', 'data-connected'),
    (s) => s === 'true'
  );
  await frame.fill('#username', 'alice');
  await frame.fill('#password', 'demo');
  await frame.click('#login');
  await frame.waitForSelector('#status', { state: 'visible' });
  if ((await frame.inputValue('#status')) !== 'ready') await frame.selectOption('#status', 'ready');
  await waitFor(
    'alice to be ready',
    async () => {
      await noError(frame, 'after sign-in');
      return (await api('GET', '/agents/alice', root)).status;
    },
    (s) => s === 'ready'
  );
  await waitFor(
    'click-to-dial to be enabled in the host page (#contacts data-click-to-dial=on)',
    () => attr(page, '#contacts', 'data-click-to-dial'),
    (s) => s === 'on'
  );
  log('alice is ready; panel connected; click-to-dial on');

  // 1b. A call rings and alice steps away from the panel's status menu while it rings: the
  // ringing stops, she is on her break, and the call is back in its line for someone else.
  log('step 1b: a call rings; alice chooses Break while it rings');
  const first = await api('POST', '/calls', root, { from: '+15550009999', queue: QUEUE });
  await waitFor(`the offer of ${first.id} in the panel`, () => attr(frame, '#offer', 'data-call-id'), (id) => id === first.id);
  if (await frame.isDisabled('#status')) fail('the status menu is disabled while the phone rings');
  await page.screenshot({ path: `${process.env.SCREENSHOT_DIR || '/tmp'}/crm-panel-ringing.png` });
  await frame.selectOption('#status', 'break');
  await waitFor('the offer banner to go', () => frame.isHidden('#offer'), (hidden) => hidden);
  await waitFor('alice to be on her break', async () => (await api('GET', '/agents/alice', root)).status, (s) => s === 'break');
  const back = await api('GET', `/calls/${first.id}`, root);
  if (back.state !== 'waiting' || back.offered.length) fail(`the call did not go back to its line: ${JSON.stringify(back)}`);
  if (!back.journey.some((e) => e.event === 'stepped_away')) fail(`no stepped_away in the journey: ${JSON.stringify(back.journey)}`);
  await api('POST', `/calls/${first.id}/hangup`, root, { party: 'customer' });
  await frame.selectOption('#status', 'ready');
  await waitFor('alice to be ready again', async () => (await api('GET', '/agents/alice', root)).status, (s) => s === 'ready');

  // 2. A call rings: screen pop.
  log(`step 2: call from ${CALLER}, screen pop`);
  const created = await api('POST', '/calls', root, { from: CALLER, queue: QUEUE });
  const callId = created.id;
  await waitFor(
    `the offer of ${callId} in the panel`,
    () => attr(frame, '#offer', 'data-call-id'),
    (id) => id === callId
  );
  const popped = await waitFor(
    `the host page to screen-pop ${CALLER}'s contact ${CALLER_ID} (#record)`,
    () => page.evaluate(() => ({ id: document.querySelector('#record').dataset.recordId, type: document.querySelector('#record').dataset.popType })),
    (r) => r.id === CALLER_ID
  );
  if (popped.type !== 'sobject') fail(`the screen pop was a ${popped.type} pop, not sobject`);
  const match = await waitFor('the offer to name the CRM match (#offer-crm)', () => frame.textContent('#offer-crm'), (t) => /Ada Lovelace/.test(t || ''));
  log(`screen pop: #record shows ${popped.id}; offer says "${match.trim()}"`);

  // 3. Accept; the form: prefilled Name, then disposition, tags, notes.
  log('step 3: accept, call data form');
  await frame.click('#accept');
  await frame.waitForSelector('#call', { state: 'visible' });
  await waitFor(
    'the call data form for the call (#cti-form data-call-id)',
    () => frame.evaluate(() => {
      const f = document.getElementById('cti-form');
      return !f.hidden && !document.getElementById('cti-disposition').disabled ? f.dataset.callId : null;
    }),
    (id) => id === callId
  );
  await waitFor(`Name (who) prefilled with ${CALLER_ID}`, () => frame.inputValue('#cti-who'), (v) => v === CALLER_ID);
  await waitFor(
    'the prefilled Name saved on the call',
    async () => (await api('GET', `/calls/${callId}/cti`, root)).data.who,
    (w) => w === CALLER_ID
  );
  const options = await frame.evaluate(() => [...document.querySelectorAll('#cti-disposition option')].map((o) => o.value));
  const tagBoxes = await frame.evaluate(() => [...document.querySelectorAll('#cti-tags input[data-tag]')].map((i) => i.dataset.tag));
  for (const d of ['resolved', 'callback', 'escalated']) if (!options.includes(d)) fail(`#cti-disposition lacks ${d}: ${options}`);
  for (const t of ['billing', 'vip', 'complaint']) if (!tagBoxes.includes(t)) fail(`#cti-tags lacks ${t}: ${tagBoxes}`);
  // A value the server refuses (Related To longer than a CRM id): 422 shown in #error.
  await frame.fill('#cti-what', 'x'.repeat(300));
  await frame.click('#cti-notes'); // Related To loses focus: saved at once
  const refused = await waitFor('the refused save to show in #error', () => shownError(frame));
  if (!/what/.test(refused)) fail(`the error should name the field "what": ${refused}`);
  await waitFor('#cti-saved to say error', () => attr(frame, '#cti-saved', 'data-state'), (s) => s === 'error');
  await frame.click('#error-close');
  await frame.fill('#cti-what', '');
  log(`a bad Related To was refused: "${refused.trim()}"`);
  await frame.selectOption('#cti-disposition', DISPOSITION);
  for (const t of TAGS) await frame.check(`#cti-tags input[data-tag="${t}"]`);
  await frame.fill('#cti-notes', NOTES);
  await frame.click('#cti-what'); // the notes lose focus: saved at once
  const saved = await waitFor(
    'the form to be saved on the call (GET /calls/{id}/cti)',
    async () => {
      await noError(frame, 'while filling the form');
      return (await api('GET', `/calls/${callId}/cti`, root)).data;
    },
    (d) => d.disposition === DISPOSITION && JSON.stringify(d.tags) === JSON.stringify(TAGS) && d.notes === NOTES && d.who === CALLER_ID
  );
  await waitFor('#cti-saved to say saved', () => attr(frame, '#cti-saved', 'data-state'), (s) => s === 'saved');
  log(`saved: ${JSON.stringify(saved)}`);

  // 4. Hang up, end the wrap-up: the log reaches the host page.
  log('step 4: hang up, wrap-up, saveLog');
  await frame.click('#hangup');
  await frame.waitForSelector('#wrap-up', { state: 'visible' });
  if (await frame.isHidden('#cti-form')) fail('the call data form should stay during the wrap-up');
  await frame.click('#end-wrap-up');
  await frame.waitForSelector('#wrap-up', { state: 'hidden' });
  const row = await waitFor(`the host page's #logs to list call ${callId}`, () => hostLog(page, callId));
  if (row.disposition !== DISPOSITION) fail(`the log's disposition is "${row.disposition}", not ${DISPOSITION}`);
  if (row.tags !== TAGS.join(', ')) fail(`the log's tags are "${row.tags}", not ${TAGS.join(', ')}`);
  if (row.notes !== NOTES) fail(`the log's notes are "${row.notes}", not "${NOTES}"`);
  await waitFor(
    'the panel to say the call was logged (#cti-logged data-state=logged)',
    () => frame.evaluate(() => {
      const el = document.getElementById('cti-logged');
      return { state: el.dataset.state, callId: el.dataset.callId, recordId: el.dataset.recordId };
    }),
    (s) => s.state === 'logged' && s.callId === callId && s.recordId === row.recordId
  );
  if (!(await frame.isHidden('#cti-form'))) fail('the call data form should be gone after the wrap-up');
  await noError(frame, 'after the wrap-up');
  log(`host logged ${callId} as ${row.recordId}: ${row.disposition} / ${row.tags} / "${row.notes}"`);

  // 5. Click-to-dial.
  log(`step 5: click-to-dial ${DIALED}`);
  await waitFor('alice to be ready again', async () => (await api('GET', '/agents/alice', root)).status, (s) => s === 'ready');
  await page.click(`#contacts a.dial[data-number="${DIALED}"]`);
  const dialing = await waitFor(
    `a call to ${DIALED} dialing for alice (GET /calls?state=dialing)`,
    async () => {
      await noError(frame, 'after the click-to-dial');
      const r = await api('GET', '/calls?state=dialing', root);
      return (r.calls || []).find((c) => c.from === DIALED && c.agent === 'alice' && c.kind === 'outbound');
    }
  );
  const dialedId = dialing.id;
  await waitFor('the panel to show the dialing call', () => attr(frame, '#call', 'data-call-id'), (id) => id === dialedId);
  await waitFor('#hangup to be enabled while dialing', () => frame.isEnabled('#hangup'));
  log(`dialing ${dialedId}; giving it up from the panel`);
  await frame.click('#hangup');
  await frame.waitForSelector('#wrap-up', { state: 'visible' });
  await waitFor(
    `the clicked contact ${DIALED_ID} as the dialed call's Name (saved in its wrap-up)`,
    async () => (await api('GET', `/calls/${dialedId}/cti`, root)).data.who,
    (w) => w === DIALED_ID
  );
  await frame.click('#end-wrap-up');
  await frame.waitForSelector('#wrap-up', { state: 'hidden' });
  const ended = await api('GET', `/calls/${dialedId}`, root);
  if (ended.state !== 'ended') fail(`the dialed call is ${ended.state}, not ended`);
  await noError(frame, 'at the end');
  log(`dialed call ${dialedId} ended; alice is ${(await api('GET', '/agents/alice', root)).status}`);

  // The call's data as the server keeps it (what its CRM log carries).
  const data = (await api('GET', `/calls/${callId}/cti`, root)).data;
  return { call_id: callId, dialed_call_id: dialedId, data, disposition: DISPOSITION, tags: TAGS, notes: NOTES, who: CALLER_ID };
}

run(main);
