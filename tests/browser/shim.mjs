// Browser test of the Open CTI shim (/cti/opencti-shim.js) and the host library
// (/cti/switchyard-host.js), in one headless Chromium, without signing in:
//   - in the panel iframe of /crm-demo: the enums, every sforce.opencti method with valid
//     arguments (the callback shape {success, returnValue, errors}, always asynchronous, and
//     the effect in the host page: screen pops in #record, logs in #logs, the panel's
//     visibility/size/label/icon, click-to-dial and navigation events), with invalid
//     arguments (INVALID_PARAM through the callback; TypeError for a missing or non-function
//     callback/listener), host failures (a handler that throws or rejects -> GENERIC_ERROR,
//     a handler that never answers -> GENERIC_ERROR after SwitchyardOpenCti.timeoutMs, a
//     SwitchyardHost.error code passed through, runApex -> SERVER_ERROR);
//   - origins: messages posted by a frame of another origin (localhost vs 127.0.0.1) are
//     ignored by the panel and by the host page; /crm-demo on the other origin hosting the
//     panel: refused (requests answer GENERIC_ERROR at once, host messages ignored) unless the
//     server lists that origin in [cti] allowed_origins (then it connects);
//   - a page framing /agent without the host library: requests time out, status no-host;
//   - stand-alone /agent: harmless defaults, GENERIC_ERROR "no CRM host" for CRM work;
//   - stepping aside: with a sforce.opencti already there, the shim leaves it untouched (and
//     /agent uses that one).
// Fails at the first unmet expectation with a non-zero exit; on success prints one
// `RESULT {json}` line with the number of checks.
//
// Environment: BASE_URL (default http://127.0.0.1:8080; the other origin swaps 127.0.0.1 and
// localhost), CHROMIUM (default /usr/bin/chromium). Run: `npm install` once here, then
// `node shim.mjs`. The server must serve /crm-demo (any setup).

import {
  fail,
  launchChromium,
  log,
  run,
  waitFor as pollFor,
  watchConsole as watchPage,
} from './lib.mjs';
import { existsSync } from 'node:fs';

const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT_MS = 15_000;
const ORIGIN = new URL(BASE_URL).origin;
const OTHER = (() => {
  const u = new URL(BASE_URL);
  if (u.hostname === '127.0.0.1') u.hostname = 'localhost';
  else if (u.hostname === 'localhost') u.hostname = '127.0.0.1';
  else return null;
  return u.origin;
})();
const REAL_CODES = ['INVALID_PARAM', 'GENERIC_ERROR', 'SERVER_ERROR', 'SOFTPHONE_CONTAINER_ERROR'];
const METHODS = [
  'saveLog',
  'screenPop',
  'searchAndScreenPop',
  'onClickToDial',
  'enableClickToDial',
  'disableClickToDial',
  'getCallCenterSettings',
  'getSoftphoneLayout',
  'setSoftphonePanelVisibility',
  'isSoftphonePanelVisible',
  'setSoftphonePanelHeight',
  'setSoftphonePanelWidth',
  'setSoftphonePanelLabel',
  'setSoftphonePanelIcon',
  'setSoftphoneItemLabel',
  'setSoftphoneItemIcon',
  'notifyInitializationComplete',
  'onNavigationChange',
  'refreshView',
  'getAppViewInfo',
  'runApex',
];

let checks = 0;
function check(cond, msg) {
  checks++;
  if (!cond) fail(msg);
}

/** Polls `probe` until `ok(value)` holds (lib.mjs's waitFor, every 100 ms); counts as a check. */
async function waitFor(what, probe, ok = (v) => !!v, timeoutMs = WAIT_MS, everyMs = 100) {
  const v = await pollFor(what, probe, ok, timeoutMs, everyMs);
  checks++;
  return v;
}

// ------------------------------------------------------------------------------ helpers

/**
 * Calls sforce.opencti[method] in `frame`. `args` is the argument object (a callback is added
 * unless `raw` is set: then `args` is passed as is). Answers {answer, sync} (the callback's
 * argument and whether it ran synchronously), {threw, message}, or {returned}.
 */
async function cti(frame, method, args, { raw = false, wait = 8000 } = {}) {
  return frame.evaluate(
    async ({ method, args, raw, wait }) => {
      const o = window.sforce.opencti;
      let sync = true;
      return new Promise((resolve) => {
        const a = raw ? args : { ...(args || {}), callback: (r) => resolve({ answer: r, sync }) };
        try {
          const ret = o[method](a);
          if (raw) resolve({ returned: ret === undefined ? 'undefined' : typeof ret });
        } catch (e) {
          resolve({ threw: e && e.constructor ? e.constructor.name : String(e), message: e && e.message });
        }
        sync = false;
        setTimeout(() => resolve({ noAnswer: true }), wait);
      });
    },
    { method, args, raw, wait }
  );
}

const show = (v) => JSON.stringify(v);

/** Checks the callback shape; returns the answer. */
function shaped(r, what) {
  check(r && r.answer, `${what}: no callback answer (${show(r)})`);
  check(!r.sync, `${what}: the callback ran synchronously`);
  const a = r.answer;
  check(typeof a.success === 'boolean', `${what}: success is not a boolean: ${show(a)}`);
  check('returnValue' in a && 'errors' in a, `${what}: the answer lacks returnValue or errors: ${show(a)}`);
  if (a.success) {
    check(a.errors === null, `${what}: a success has errors ${show(a.errors)}`);
  } else {
    check(a.returnValue === null, `${what}: a failure has a returnValue ${show(a.returnValue)}`);
    check(Array.isArray(a.errors) && a.errors.length > 0, `${what}: a failure without errors: ${show(a)}`);
    for (const e of a.errors) {
      check(REAL_CODES.includes(e.code), `${what}: error code ${e.code} is not an Open CTI code`);
      check(typeof e.description === 'string' && e.description.length > 0, `${what}: error without description`);
      check('details' in e, `${what}: error without details field: ${show(e)}`);
    }
  }
  return a;
}

async function expectOk(frame, method, args, what = method) {
  const a = shaped(await cti(frame, method, args), what);
  check(a.success, `${what}: expected success, got ${show(a.errors)}`);
  return a.returnValue;
}

async function expectError(frame, method, args, code, what = `${method}(${show(args)})`, match = null) {
  const a = shaped(await cti(frame, method, args), what);
  check(!a.success, `${what}: expected ${code}, got success ${show(a.returnValue)}`);
  check(a.errors[0].code === code, `${what}: expected ${code}, got ${a.errors[0].code} (${a.errors[0].description})`);
  if (match) check(match.test(a.errors[0].description), `${what}: the description "${a.errors[0].description}" does not match ${match}`);
  return a.errors[0];
}

async function expectThrow(frame, method, args, what = `${method}(${show(args)})`) {
  const r = await cti(frame, method, args, { raw: true });
  check(r.threw === 'TypeError', `${what}: expected a TypeError, got ${show(r)}`);
}

const hostState = (page) => page.evaluate(() => window.crmDemo.host.state);
const recordShown = (page) =>
  page.evaluate(() => ({ id: document.querySelector('#record').dataset.recordId, type: document.querySelector('#record').dataset.popType }));

async function panelFrame(page, what) {
  return waitFor(`${what}: the panel iframe to load /agent`, async () => {
    const el = await page.$('#panel');
    const f = el && (await el.contentFrame());
    return f && f.url().includes('/agent') && (await f.evaluate(() => !!window.SwitchyardOpenCti)) ? f : null;
  });
}

const status = (frame) => frame.evaluate(() => window.SwitchyardOpenCti.status);

// ------------------------------------------------------------------------------ the browser

async function launch() {
  return launchChromium(CHROMIUM);
}

const consoleLines = [];
function watchConsole(name, page) {
  watchPage(page, consoleLines, { prefix: `${name} `, api: false });
}

async function main() {
  if (!existsSync(CHROMIUM)) fail(`missing ${CHROMIUM}`);
  const res = await fetch(`${BASE_URL}/cti/opencti-shim.js`);
  if (!res.ok) fail(`GET /cti/opencti-shim.js answered ${res.status}`);
  const source = await res.text();
  const m = /const ALLOWED_ORIGINS = (\[[^\n]*?\]);/.exec(source);
  if (!m) fail('the served shim has no `const ALLOWED_ORIGINS = [...];` (the server did not fill it in?)');
  const allowed = JSON.parse(m[1]);
  log(`server ${BASE_URL} up; the shim allows ${show(allowed)} besides its own origin`);

  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    return await scenario(context, allowed);
  } catch (e) {
    for (const l of consoleLines.slice(-40)) console.error(l);
    throw e;
  } finally {
    await browser.close().catch(() => {});
  }
}

async function scenario(context, allowed) {
  // A page framing /agent without the host library: opened first, it times out meanwhile.
  const bare = await context.newPage();
  watchConsole('bare', bare);
  await bare.goto(`${BASE_URL}/api/v1/health`);
  await bare.setContent(`<!doctype html><iframe id="panel" src="${BASE_URL}/agent" width="320" height="600"></iframe>`);
  const bareFrame = await panelFrame(bare, 'a page without the host library');
  const bareStart = Date.now();

  // ---------------------------------------------------------------- the CRM demo
  log('the panel in /crm-demo: enums, every method');
  const page = await context.newPage();
  watchConsole('crm-demo', page);
  await page.goto(`${BASE_URL}/crm-demo`);
  const frame = await panelFrame(page, '/crm-demo');
  await waitFor('the shim to connect to the host', () => status(frame), (s) => s === 'connected');
  const info = await frame.evaluate(() => ({
    shim: window.SwitchyardOpenCti.shim,
    hostOrigin: window.SwitchyardOpenCti.hostOrigin,
    pop: window.sforce.opencti.SCREENPOP_TYPE,
    call: window.sforce.opencti.CALL_TYPE,
    frozen: Object.isFrozen(window.sforce.opencti.SCREENPOP_TYPE) && Object.isFrozen(window.sforce.opencti.CALL_TYPE),
    methods: Object.keys(window.sforce.opencti).filter((k) => typeof window.sforce.opencti[k] === 'function'),
  }));
  check(info.shim === true, 'SwitchyardOpenCti.shim should be true');
  check(info.hostOrigin === ORIGIN, `hostOrigin is ${info.hostOrigin}, not ${ORIGIN}`);
  check(
    show(info.pop) ===
      show({ SOBJECT: 'sobject', URL: 'url', OBJECTHOME: 'objecthome', LIST: 'list', SEARCH: 'search', NEW_RECORD_MODAL: 'newRecord', FLOW: 'flow' }),
    `SCREENPOP_TYPE is ${show(info.pop)}`
  );
  check(show(info.call) === show({ INBOUND: 'inbound', OUTBOUND: 'outbound', INTERNAL: 'internal' }), `CALL_TYPE is ${show(info.call)}`);
  check(info.frozen, 'the enums should be frozen');
  for (const name of METHODS) check(info.methods.includes(name), `sforce.opencti.${name} is missing`);
  await waitFor('the host page to see the panel connected', () => hostState(page), (s) => s.connected);

  // Getters.
  const settings = await expectOk(frame, 'getCallCenterSettings', {});
  check(typeof settings['/reqGeneralInfo/reqAdapterUrl'] === 'string' && settings['/reqGeneralInfo/reqAdapterUrl'].includes('/agent'), `settings: ${show(settings)}`);
  const layout = await expectOk(frame, 'getSoftphoneLayout', {});
  for (const k of ['Inbound', 'Outbound', 'Internal']) {
    check(layout[k] && layout[k].objects, `the layout lacks ${k}: ${show(layout)}`);
    check(Array.isArray(layout[k].callRelatedFields) && layout[k].callRelatedFields.includes('ANI'), `${k} lacks callRelatedFields: ${show(layout[k])}`);
  }
  check(show(await expectOk(frame, 'isSoftphonePanelVisible', {})) === show({ visible: true }), 'the panel should start visible');
  await expectThrow(frame, 'getCallCenterSettings', {});
  await expectThrow(frame, 'getSoftphoneLayout', undefined);
  await expectThrow(frame, 'isSoftphonePanelVisible', { callback: 5 });
  await expectThrow(frame, 'getAppViewInfo', {});

  // Panel state.
  log('panel visibility, size, label and icon');
  check((await expectOk(frame, 'setSoftphonePanelVisibility', { visible: false })) === null, 'setSoftphonePanelVisibility returns null');
  check((await page.evaluate(() => document.getElementById('panel').style.display)) === 'none', 'the host should hide the panel iframe');
  check(show(await expectOk(frame, 'isSoftphonePanelVisible', {})) === show({ visible: false }), 'isSoftphonePanelVisible should say false');
  check(await page.isVisible('#panel-toggle'), 'the host page should offer to show the phone again');
  await expectOk(frame, 'setSoftphonePanelVisibility', { visible: true });
  check(await page.isVisible('#panel'), 'the panel iframe should be visible again');
  await expectError(frame, 'setSoftphonePanelVisibility', { visible: 'yes' }, 'INVALID_PARAM', undefined, /visible/);
  await expectError(frame, 'setSoftphonePanelVisibility', {}, 'INVALID_PARAM');
  await expectOk(frame, 'setSoftphonePanelHeight', { heightPX: 560 });
  await expectOk(frame, 'setSoftphonePanelWidth', { widthPX: 340 });
  const size = await page.evaluate(() => ({ h: document.getElementById('panel').style.height, w: document.getElementById('panel').style.width }));
  check(size.h === '560px' && size.w === '340px', `the iframe is ${show(size)}, not 560 x 340`);
  await expectError(frame, 'setSoftphonePanelHeight', { heightPX: -1 }, 'INVALID_PARAM', undefined, /heightPX/);
  await expectError(frame, 'setSoftphonePanelHeight', { heightPX: '560' }, 'INVALID_PARAM');
  await expectError(frame, 'setSoftphonePanelWidth', {}, 'INVALID_PARAM', undefined, /widthPX/);
  await expectError(frame, 'setSoftphonePanelWidth', { widthPX: Number.NaN }, 'INVALID_PARAM');
  await expectOk(frame, 'setSoftphonePanelLabel', { label: 'Phone · test' });
  await expectOk(frame, 'setSoftphonePanelIcon', { key: 'call' });
  await expectOk(frame, 'setSoftphoneItemLabel', { label: 'On a call' });
  await expectOk(frame, 'setSoftphoneItemIcon', { key: 'end_call' });
  const st = await hostState(page);
  check(
    st.label === 'Phone · test' && st.icon === 'call' && st.itemLabel === 'On a call' && st.itemIcon === 'end_call',
    `the host keeps ${show(st)}`
  );
  check(((await page.textContent('#panel-label')) || '').includes('Phone · test'), 'the host page should show the panel label');
  await expectError(frame, 'setSoftphonePanelLabel', { label: '' }, 'INVALID_PARAM', undefined, /label/);
  await expectError(frame, 'setSoftphonePanelIcon', {}, 'INVALID_PARAM', undefined, /key/);
  await expectError(frame, 'setSoftphoneItemLabel', { label: 3 }, 'INVALID_PARAM');
  await expectError(frame, 'setSoftphoneItemIcon', { key: null }, 'INVALID_PARAM');
  await expectThrow(frame, 'setSoftphonePanelLabel', { label: 'x', callback: 'not a function' });
  // Back to the demo's size.
  await expectOk(frame, 'setSoftphonePanelHeight', { heightPX: 640 });
  await expectOk(frame, 'setSoftphonePanelWidth', { widthPX: 320 });

  // notifyInitializationComplete: without a callback the host learns it; with one (as
  // Salesforce's samples call it), the callback is answered too.
  const nic = await cti(frame, 'notifyInitializationComplete', undefined, { raw: true });
  check(nic.returned === 'undefined', `notifyInitializationComplete returned ${show(nic)}`);
  await waitFor('the host to note the initialization', () => hostState(page), (s) => s.initialized);
  check((await expectOk(frame, 'notifyInitializationComplete', {})) === null, 'notifyInitializationComplete({callback}) answers null');

  // Click-to-dial: the listener (replacing the panel's own), enable, disable.
  log('click-to-dial and navigation events');
  await expectThrow(frame, 'onClickToDial', {});
  await expectThrow(frame, 'onClickToDial', { listener: 'x' });
  await expectThrow(frame, 'onNavigationChange', undefined);
  const reg = await frame.evaluate(() => {
    window.__dials = [];
    window.__navs = [];
    return [
      window.sforce.opencti.onClickToDial({ listener: (p) => window.__dials.push(p) }),
      window.sforce.opencti.onNavigationChange({ listener: (p) => window.__navs.push(p) }),
    ];
  });
  check(reg.every((r) => r === null || r === undefined), `listener registration returned ${show(reg)}`);
  await waitFor('the host to know both listeners', () => hostState(page), (s) => s.listening.includes('clickToDial') && s.listening.includes('navigationChange'));
  await expectOk(frame, 'disableClickToDial', {});
  check(!(await hostState(page)).clickToDial, 'the host should see click-to-dial off');
  check((await page.getAttribute('#contacts', 'data-click-to-dial')) === 'off', '#contacts should say click-to-dial off');
  await page.click('#contacts a.dial[data-number="+15550777"]');
  check((await page.textContent('#dial-note')).includes('off'), 'a click with click-to-dial off should say so');
  await expectThrow(frame, 'disableClickToDial', { callback: 1 });
  await expectOk(frame, 'enableClickToDial', undefined);
  await waitFor('#contacts to say click-to-dial on', () => page.getAttribute('#contacts', 'data-click-to-dial'), (v) => v === 'on');
  await page.click('#contacts a.dial[data-number="+15550777"]');
  const dial = await waitFor('the click-to-dial listener to get the click', () => frame.evaluate(() => window.__dials[0]));
  check(
    dial.number === '+15550777' &&
      dial.recordId === '003000000000002' &&
      dial.recordName === 'Grace Hopper' &&
      dial.objectType === 'Contact' &&
      dial.params === 'recordId=003000000000002,objectType=Contact',
    `click-to-dial payload: ${show(dial)}`
  );
  await expectThrow(frame, 'enableClickToDial', { callback: {} });
  // Navigation: opening a record in the host page.
  await page.click('#contacts tr[data-record-id="001000000000001"] button.open');
  const nav = await waitFor('the navigation listener to get the change', () => frame.evaluate(() => window.__navs[0]));
  check(nav.recordId === '001000000000001' && nav.objectType === 'Account' && nav.recordName === 'Analytical Engines Ltd' && /crm-demo/.test(nav.url), `navigation payload: ${show(nav)}`);
  const view = await expectOk(frame, 'getAppViewInfo', {});
  check(view.recordId === '001000000000001' && view.objectType === 'Account', `getAppViewInfo: ${show(view)}`);

  // Screen pops.
  log('screenPop and searchAndScreenPop');
  await expectOk(frame, 'screenPop', { type: 'sobject', params: { recordId: '00Q000000000001' } });
  check(show(await recordShown(page)) === show({ id: '00Q000000000001', type: 'sobject' }), `#record after an sobject pop: ${show(await recordShown(page))}`);
  const pops = [
    ['url', { url: '/lightning/o/Case/home' }],
    ['objecthome', { scope: 'Case' }],
    ['list', { listViewId: '00B000000000001', scope: 'Contact' }],
    ['search', { searchString: 'Lovelace' }],
    ['newRecord', { entityName: 'Contact', defaultFieldValues: { Phone: '+15550999' } }],
    ['flow', { flowDevName: 'Refund', flowArgs: [{ name: 'amount', type: 'Number', value: 10 }] }],
  ];
  for (const [type, params] of pops) {
    await expectOk(frame, 'screenPop', { type, params }, `screenPop ${type}`);
    check((await recordShown(page)).type === type, `#record should show the ${type} pop`);
    if (type === 'newRecord') {
      check((await page.textContent('#record')).includes('+15550999'), 'the new record pop should show its default field values');
    }
  }
  const badPops = [
    { type: 'bogus', params: {} },
    { type: 'sobject' },
    { type: 'sobject', params: {} },
    { type: 'sobject', params: { recordId: 7 } },
    { type: 'url', params: {} },
    { type: 'objecthome', params: {} },
    { type: 'list', params: { listViewId: '00B' } },
    { type: 'search', params: { searchString: 'ab' } },
    { type: 'newRecord', params: {} },
    { type: 'newRecord', params: { entityName: 'Contact', defaultFieldValues: 'x' } },
    { type: 'flow', params: { flowDevName: 'Refund', flowArgs: 'x' } },
    { type: 'sobject', params: { recordId: '003000000000001' }, defaultFieldValues: 5 },
  ];
  for (const args of badPops) await expectError(frame, 'screenPop', args, 'INVALID_PARAM');
  const bad = await cti(frame, 'screenPop', 'not an object', { raw: true });
  check(bad.returned === 'undefined', `screenPop with a string and no callback should not throw: ${show(bad)}`);
  await expectError(frame, 'screenPop', { type: 'sobject', params: { recordId: '003999999999999' } }, 'GENERIC_ERROR', 'a pop the host fails', /no record/);

  const one = await expectOk(frame, 'searchAndScreenPop', { searchParams: '+15550123', callType: 'inbound', deferred: false });
  check(Object.keys(one).length === 1 && one['003000000000001'] && one['003000000000001'].RecordType === 'Contact' && one['003000000000001'].Name === 'Ada Lovelace', `one match: ${show(one)}`);
  await waitFor('the single match to be popped', () => recordShown(page), (r) => r.id === '003000000000001' && r.type === 'sobject');
  const deferred = await expectOk(frame, 'searchAndScreenPop', { searchParams: '+15550555', callType: 'inbound', deferred: true });
  const ids = Object.keys(deferred).filter((k) => k !== 'SCREEN_POP_DATA').sort();
  check(show(ids) === show(['003000000000003', '00Q000000000002']), `two matches: ${show(deferred)}`);
  check(deferred.SCREEN_POP_DATA && deferred.SCREEN_POP_DATA.type === 'search', `deferred: SCREEN_POP_DATA ${show(deferred.SCREEN_POP_DATA)}`);
  check((await recordShown(page)).id === '003000000000001', 'a deferred search must not pop');
  await expectOk(frame, 'screenPop', deferred.SCREEN_POP_DATA, 'screenPop of SCREEN_POP_DATA');
  check((await recordShown(page)).type === 'search', 'SCREEN_POP_DATA should pop the search');
  const outbound = await expectOk(frame, 'searchAndScreenPop', { searchParams: '+15550456', callType: 'outbound' });
  check(outbound['00Q000000000001'] && outbound['00Q000000000001'].RecordType === 'Lead', `outbound search: ${show(outbound)}`);
  check((await recordShown(page)).type === 'search', 'an outbound search must not pop');
  const none = await expectOk(frame, 'searchAndScreenPop', { searchParams: '+19999999', callType: 'inbound', queryParams: 'x=1', defaultFieldValues: { Phone: '+19999999' } });
  check(show(none) === '{}', `no match: ${show(none)}`);
  for (const args of [
    { searchParams: '+15550123' },
    { searchParams: '+15550123', callType: 'sideways' },
    { searchParams: 5, callType: 'inbound' },
    { searchParams: '+15550123', callType: 'inbound', queryParams: {} },
    { searchParams: '+15550123', callType: 'inbound', deferred: 'yes' },
    { searchParams: '+15550123', callType: 'inbound', defaultFieldValues: [] },
  ]) {
    await expectError(frame, 'searchAndScreenPop', args, 'INVALID_PARAM');
  }

  // saveLog.
  log('saveLog, refreshView, runApex, host failures');
  const value = {
    entityApiName: 'Task',
    CallObject: 'shim-test-1',
    CallType: 'Inbound',
    CallDisposition: 'resolved',
    Subject: 'Call from +15550123',
    Description: 'Refund sent.\n\nTags: billing, vip',
    Status: 'Completed',
    WhoId: '003000000000001',
  };
  const saved = await expectOk(frame, 'saveLog', { value });
  check(typeof saved.recordId === 'string' && saved.recordId.startsWith('00T'), `saveLog: ${show(saved)}`);
  const row = await page.evaluate(() => {
    const li = document.querySelector('#logs li[data-call-id="shim-test-1"]');
    return li && { id: li.dataset.recordId, d: li.querySelector('.disposition').textContent, t: li.querySelector('.tags').textContent, n: li.querySelector('.notes').textContent };
  });
  check(row && row.id === saved.recordId && row.d === 'resolved' && row.t === 'billing, vip' && row.n === 'Refund sent.', `#logs row: ${show(row)}`);
  const again = await expectOk(frame, 'saveLog', { value: { Id: saved.recordId, CallDisposition: 'escalated' } });
  check(again.recordId === saved.recordId, `saveLog by Id should update ${saved.recordId}: ${show(again)}`);
  check((await page.textContent('#logs li[data-call-id="shim-test-1"] .disposition')) === 'escalated', 'the update should show');
  // The lower-case `id` of Salesforce's demo adapter updates the same record.
  const lower = await expectOk(frame, 'saveLog', { value: { id: saved.recordId, CallDisposition: 'callback' } });
  check(lower.recordId === saved.recordId, `saveLog by id should update ${saved.recordId}: ${show(lower)}`);
  check((await page.textContent('#logs li[data-call-id="shim-test-1"] .disposition')) === 'callback', 'the lower-case id update should show');
  for (const args of [{}, { value: 'x' }, { value: [] }, { value: {} }, { value: { entityApiName: '' } }]) {
    await expectError(frame, 'saveLog', args, 'INVALID_PARAM');
  }
  await expectError(frame, 'saveLog', { value: { Id: '00T999999999999' } }, 'GENERIC_ERROR', 'saveLog of an unknown Id');
  await expectThrow(frame, 'saveLog', { value, callback: 'x' });

  // refreshView, runApex.
  check((await expectOk(frame, 'refreshView', {})) === null, 'refreshView returns null');
  await expectThrow(frame, 'refreshView', { callback: 3 });
  await expectError(frame, 'runApex', { apexClass: 'AccountService', methodName: 'find', methodParams: 'name=Ada' }, 'SERVER_ERROR', 'runApex on a non-Salesforce host', /AccountService/);
  for (const args of [{ methodName: 'find' }, { apexClass: 'A' }, { apexClass: 'A', methodName: 'b', methodParams: 5 }]) {
    await expectError(frame, 'runApex', args, 'INVALID_PARAM');
  }
  await page.evaluate(() => {
    window.crmDemo.host.options.onRunApex = ({ methodName }) => ({ ok: methodName });
  });
  const apex = await expectOk(frame, 'runApex', { apexClass: 'A', methodName: 'b' });
  check(show(apex) === show({ runApex: { ok: 'b' } }), `runApex with a handler: ${show(apex)}`);

  // Host failures.
  await page.evaluate(() => {
    const o = window.crmDemo.host.options;
    window.__saved = { onSaveLog: o.onSaveLog, onRefreshView: o.onRefreshView, getAppViewInfo: o.getAppViewInfo };
    o.onSaveLog = () => {
      throw new Error('the CRM database is down');
    };
    o.onRefreshView = () => Promise.reject(new Error('refresh refused'));
    o.getAppViewInfo = () => {
      throw window.SwitchyardHost.error('SERVER_ERROR', 'A problem was encountered on the server.');
    };
    o.onRunApex = () => {
      throw window.SwitchyardHost.error('NOT_A_CODE', 'made up');
    };
  });
  await expectError(frame, 'saveLog', { value }, 'GENERIC_ERROR', 'saveLog when the handler throws', /database is down/);
  await expectError(frame, 'refreshView', {}, 'GENERIC_ERROR', 'refreshView when the handler rejects', /refresh refused/);
  await expectError(frame, 'getAppViewInfo', {}, 'SERVER_ERROR', 'a SwitchyardHost.error code');
  await expectError(frame, 'runApex', { apexClass: 'A', methodName: 'b' }, 'GENERIC_ERROR', 'an unknown code becomes GENERIC_ERROR');
  // A host that never answers: GENERIC_ERROR after the timeout.
  await frame.evaluate(() => {
    window.SwitchyardOpenCti.timeoutMs = 700;
  });
  await page.evaluate(() => {
    window.crmDemo.host.options.onRefreshView = () => new Promise(() => {});
  });
  const before = Date.now();
  await expectError(frame, 'refreshView', {}, 'GENERIC_ERROR', 'refreshView when the host never answers', /did not answer/);
  const took = Date.now() - before;
  check(took >= 600 && took < 4000, `the timeout answered after ${took} ms (timeoutMs 700)`);
  await frame.evaluate(() => {
    window.SwitchyardOpenCti.timeoutMs = 5000;
  });
  await page.evaluate(() => Object.assign(window.crmDemo.host.options, window.__saved, { onRunApex: undefined }));
  await expectOk(frame, 'refreshView', {}, 'refreshView restored');

  // ---------------------------------------------------------------- foreign frames
  if (OTHER) {
    log(`messages from ${OTHER} (another origin) are ignored`);
    await page.evaluate((src) => {
      const f = document.createElement('iframe');
      f.id = 'intruder';
      f.src = src;
      document.body.appendChild(f);
    }, `${OTHER}/api/v1/health`);
    const intruder = await waitFor('the foreign frame to load', async () => {
      const el = await page.$('#intruder');
      const f = el && (await el.contentFrame());
      return f && f.url().startsWith(OTHER) ? f : null;
    });
    const before = await frame.evaluate(() => window.__dials.length);
    const logsBefore = await page.evaluate(() => document.querySelectorAll('#logs li[data-call-id]').length);
    // Count the foreign messages as they are delivered (these listeners run after the shim's
    // and the host library's, which were registered first), instead of sleeping.
    const countForeign = (other) => {
      window.__foreign = 0;
      window.addEventListener('message', (e) => {
        if (e.origin === other) window.__foreign++;
      });
    };
    await frame.evaluate(countForeign, OTHER);
    await page.evaluate(countForeign, OTHER);
    await intruder.evaluate(() => {
      const base = { protocol: 'switchyard-opencti', v: 1 };
      const panel = window.parent.frames[0];
      panel.postMessage({ ...base, kind: 'event', event: 'clickToDial', payload: { number: '+1900666' } }, '*');
      panel.postMessage({ ...base, kind: 'event', event: 'hello', payload: {} }, '*');
      window.parent.postMessage(
        { ...base, kind: 'request', id: 'forged-1', method: 'saveLog', args: { value: { entityApiName: 'Task', CallObject: 'forged' } } },
        '*'
      );
    });
    await waitFor('the panel to receive the foreign messages', () => frame.evaluate(() => window.__foreign), (n) => n >= 2);
    await waitFor('the host page to receive the foreign request', () => page.evaluate(() => window.__foreign), (n) => n >= 1);
    // Whatever the shim or the host would do next runs in a later task: let one pass.
    const nextTask = () => new Promise((r) => setTimeout(r, 0));
    await frame.evaluate(nextTask);
    await page.evaluate(nextTask);
    check((await frame.evaluate(() => window.__dials.length)) === before, 'a click-to-dial from a foreign frame reached the listener');
    check((await status(frame)) === 'connected', 'a foreign hello changed the shim');
    check(
      (await page.evaluate(() => document.querySelectorAll('#logs li[data-call-id]').length)) === logsBefore,
      'the host page took a request from a foreign frame'
    );
    // The genuine host still gets through.
    await page.click('#contacts a.dial[data-number="+15550123"]');
    await waitFor('a genuine click-to-dial after the intruder', () => frame.evaluate(() => window.__dials.length), (n) => n === before + 1);

    // /crm-demo on the other origin hosting this origin's panel.
    const cross = await context.newPage();
    watchConsole('cross', cross);
    await cross.goto(`${OTHER}/crm-demo?panel=${encodeURIComponent(`${ORIGIN}/agent`)}`);
    if (allowed.includes(OTHER)) {
      const xframe = await panelFrame(cross, `/crm-demo at ${OTHER}`);
      log(`${OTHER} is in allowed_origins: the cross-origin host connects`);
      await waitFor('the cross-origin shim to connect', () => status(xframe), (s) => s === 'connected');
      check((await xframe.evaluate(() => window.SwitchyardOpenCti.hostOrigin)) === OTHER, 'hostOrigin should be the other origin');
      const v = await expectOk(xframe, 'getAppViewInfo', {});
      check(v.url.startsWith(OTHER), `getAppViewInfo through the other origin: ${show(v)}`);
      await expectOk(xframe, 'screenPop', { type: 'sobject', params: { recordId: '003000000000002' } });
      check((await recordShown(cross)).id === '003000000000002', 'the cross-origin host should pop');
    } else {
      // The server's Content-Security-Policy (frame-ancestors 'self' + allowed_origins) keeps
      // a page of another origin from framing the panel at all; the shim's own refusal of a
      // disallowed parent is the second line, behind it.
      log(`${OTHER} is not in allowed_origins: the browser refuses to frame the panel there`);
      await waitFor(
        'the browser to block the framing (frame-ancestors)',
        async () => consoleLines.some((l) => l.startsWith('cross') && l.includes('frame-ancestors')),
        (v) => v
      );
      const el = await cross.$('#panel');
      const f = el && (await el.contentFrame());
      const shimThere = f ? await f.evaluate(() => !!window.SwitchyardOpenCti).catch(() => false) : false;
      check(!shimThere, 'the panel must not load inside a page of a disallowed origin');
      check((await cross.getAttribute('#panel-state', 'data-connected')) !== 'true', 'the refused host should not see the panel connected');
    }
    await cross.close();
  } else {
    log(`BASE_URL host is neither 127.0.0.1 nor localhost: no second origin, origin checks skipped`);
  }

  // ---------------------------------------------------------------- no host
  log('a page without the host library');
  await bareFrame.evaluate(() => {
    window.SwitchyardOpenCti.timeoutMs = 500;
  });
  await expectError(bareFrame, 'getAppViewInfo', {}, 'GENERIC_ERROR', 'no host library', /did not answer/);
  await waitFor('the shim to give up on a silent parent (status no-host)', () => status(bareFrame), (s) => s === 'no-host', Math.max(1000, 9000 - (Date.now() - bareStart)));
  check((await bareFrame.getAttribute('#cti-state', 'data-state')) === 'no-host', '#cti-state should say no-host');
  await bare.close();

  // ---------------------------------------------------------------- stand-alone
  log('stand-alone /agent');
  const alone = await context.newPage();
  watchConsole('alone', alone);
  await alone.goto(`${BASE_URL}/agent`);
  await waitFor('the stand-alone shim', () => alone.evaluate(() => window.SwitchyardOpenCti && window.SwitchyardOpenCti.status), (s) => s === 'standalone');
  check((await alone.getAttribute('#cti-state', 'data-state')) === 'standalone', '#cti-state should say standalone');
  const main = alone.mainFrame();
  check(show(await expectOk(main, 'isSoftphonePanelVisible', {})) === show({ visible: true }), 'stand-alone: visible');
  check(typeof (await expectOk(main, 'getCallCenterSettings', {}))['/reqGeneralInfo/reqAdapterUrl'] === 'string', 'stand-alone settings');
  check(!!(await expectOk(main, 'getSoftphoneLayout', {})).Inbound, 'stand-alone layout');
  for (const [m, a] of [
    ['setSoftphonePanelVisibility', { visible: false }],
    ['setSoftphonePanelHeight', { heightPX: 500 }],
    ['setSoftphonePanelWidth', { widthPX: 300 }],
    ['setSoftphonePanelLabel', { label: 'x' }],
    ['setSoftphonePanelIcon', { key: 'call' }],
    ['setSoftphoneItemLabel', { label: 'x' }],
    ['setSoftphoneItemIcon', { key: 'call' }],
    ['enableClickToDial', {}],
    ['disableClickToDial', {}],
  ]) {
    await expectOk(main, m, a, `stand-alone ${m}`);
  }
  for (const [m, a] of [
    ['saveLog', { value: { entityApiName: 'Task' } }],
    ['screenPop', { type: 'sobject', params: { recordId: '003000000000001' } }],
    ['searchAndScreenPop', { searchParams: '+15550123', callType: 'inbound' }],
    ['refreshView', {}],
    ['getAppViewInfo', {}],
    ['runApex', { apexClass: 'A', methodName: 'b' }],
  ]) {
    await expectError(main, m, a, 'GENERIC_ERROR', `stand-alone ${m}`, /no CRM host/);
  }
  await expectError(main, 'setSoftphonePanelHeight', { heightPX: 0 }, 'INVALID_PARAM', 'stand-alone bad argument');
  await expectThrow(main, 'getSoftphoneLayout', {});
  await alone.close();

  // ---------------------------------------------------------------- stepping aside
  log('the shim steps aside for a real sforce.opencti');
  const sf = await context.newPage();
  watchConsole('salesforce', sf);
  await sf.goto(`${BASE_URL}/api/v1/health`);
  await sf.setContent(
    `<!doctype html><script>
      window.__fake = { marker: 42, saveLog() { return 'real'; } };
      window.sforce = { opencti: window.__fake };
      window.__keys = Object.keys(window.__fake).join(',');
    </script><script src="${BASE_URL}/cti/opencti-shim.js"></script>`
  );
  const aside = await sf.evaluate(() => ({
    same: window.sforce.opencti === window.__fake,
    keys: Object.keys(window.sforce.opencti).join(','),
    before: window.__keys,
    call: window.sforce.opencti.saveLog(),
    shim: window.SwitchyardOpenCti && window.SwitchyardOpenCti.shim,
    status: window.SwitchyardOpenCti && window.SwitchyardOpenCti.status,
  }));
  check(aside.same, 'the shim replaced a pre-existing sforce.opencti');
  check(aside.keys === aside.before, `the shim changed the real sforce.opencti: ${aside.before} -> ${aside.keys}`);
  check(aside.call === 'real' && aside.shim === false && aside.status === 'salesforce', `stepped aside: ${show(aside)}`);
  // The panel itself uses the Open CTI it finds.
  await sf.addInitScript(() => {
    const calls = [];
    window.__calls = calls;
    const rec = (name) => (a) => {
      calls.push(name);
      if (a && typeof a.callback === 'function') setTimeout(() => a.callback({ success: true, returnValue: null, errors: null }), 0);
    };
    window.sforce = {
      opencti: {
        fake: true,
        CALL_TYPE: { INBOUND: 'inbound', OUTBOUND: 'outbound', INTERNAL: 'internal' },
        onClickToDial: rec('onClickToDial'),
        notifyInitializationComplete: rec('notifyInitializationComplete'),
        enableClickToDial: rec('enableClickToDial'),
        disableClickToDial: rec('disableClickToDial'),
      },
    };
  });
  await sf.goto(`${BASE_URL}/agent`);
  const used = await waitFor(
    'the panel to register with the pre-existing Open CTI',
    () => sf.evaluate(() => ({ fake: window.sforce.opencti.fake === true, calls: window.__calls.slice(), state: document.getElementById('cti-state').dataset.state })),
    (u) => u.fake && u.calls.includes('onClickToDial') && u.calls.includes('notifyInitializationComplete')
  );
  check(used.state === 'salesforce', `#cti-state under Salesforce says ${used.state}`);
  await sf.close();

  const errors = consoleLines.filter((l) => l.includes('pageerror'));
  check(errors.length === 0, `uncaught page errors: ${errors.join(' | ')}`);
  await page.close();
  return { checks, methods: METHODS.length, other_origin: OTHER, other_origin_allowed: !!OTHER && allowed.includes(OTHER) };
}

run(main);
