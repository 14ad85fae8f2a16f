// The live transcript's rendering and keyword alerts in headless Chromium, without a server:
// what the supervisor sees must show partial words as they come and never the same words
// twice, whatever order the events and the stored transcript arrive in.
//
// Part 1 drives web/assets/transcript-view.js (the model and renderer /supervisor and /agent
// share) in a blank page with crafted transcript events: a leg's partial replaces its previous
// partial; a final replaces the leg's partial; a final seen twice (live and from the stored
// transcript, either order) shows once; a final that re-reads the end of the committed words
// does not repeat them, while words after a gap do repeat; both legs interleave by when they
// were spoken, a leg whose clock began again included; an alert marks its final (before or
// after it arrives) and is listed once.
//
// Part 2 opens the real /supervisor page (web/assets, served by Playwright's router) against a
// mocked REST API and a mocked event stream: partials replace each other, finals replace
// partials, a repeated prefix shows once, a transcript.alert highlights its line, the call's
// row (also a call not shown) and the alert list; after a reload, finals that arrive live
// both before and after the stored transcript's fetch show once, and the alert is back.
//
// Environment: ASSETS_DIR (default ../../web/assets), CHROMIUM (default /usr/bin/chromium).
// Prints `RESULT {json}` on success; exits 1 at the first unmet expectation.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail, launchChromium, log, run, waitFor } from './lib.mjs';

const ASSETS_DIR = process.env.ASSETS_DIR || new URL('../../web/assets', import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const T0 = 1_800_000_000_000;
// The agent's leg began 20 s after the customer's (the wait in the queue): its own times are
// 20 s behind.
const AGENT_BEGAN = 20_000;

let seq = 0;

/** A transcript event as the server sends it. */
function ev(kind, leg, start, end, text, extra = {}) {
  const began = leg === 'agent' ? AGENT_BEGAN : 0;
  return {
    seq: ++seq,
    type: `transcript.${kind}`,
    call_id: 'c1',
    queue: 'support',
    agents: ['alice'],
    leg,
    ...(leg === 'agent' ? { agent: 'alice' } : {}),
    start_ms: start,
    end_ms: end,
    text,
    lag_ms: 300,
    at: T0 + began + end + 300,
    heard_at: T0 + began + end,
    spoken_at: T0 + began + start,
    ...extra,
  };
}
const partial = (leg, start, end, text, extra) => ev('partial', leg, start, end, text, extra);
const final = (leg, start, end, text, extra) => ev('final', leg, start, end, text, extra);
function alert(leg, start, end, phrase, severity, extra = {}) {
  const { text, lag_ms, heard_at, ...e } = ev('alert', leg, start, end, '', extra);
  return { ...e, phrase, severity, text: extra.text || '' };
}
/** A final as GET /calls/{id}/transcript lists it. */
function stored(e) {
  const { leg, agent, start_ms, end_ms, text, spoken_at } = e;
  return { call_id: 'c1', leg, agent: agent || null, start_ms, end_ms, text, at: e.at, spoken_at };
}
function storedAlert(a) {
  const { leg, agent, start_ms, end_ms, phrase, severity, text, spoken_at } = a;
  return { call_id: 'c1', queue: 'support', leg, agent: agent || null, phrase, severity, text, start_ms, end_ms, spoken_at, at: a.at };
}

function same(what, got, want) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) fail(`${what}:\n  got  ${g}\n  want ${w}`);
}

// ------------------------------------------------------------------------------ part 1

/** Applies events to the page's transcript and renders it; returns what is drawn. */
async function feed(page, events) {
  return page.evaluate((events) => {
    for (const e of events) window.TranscriptView.apply(window.t, e);
    const box = document.getElementById('box');
    const label = (s) => (s.leg === 'customer' ? 'Customer' : s.agent || 'Agent');
    window.TranscriptView.render(box, window.t, label, document.getElementById('alerts'));
    return {
      lines: [...box.querySelectorAll('.line')].map((l) => [
        l.dataset.leg,
        l.dataset.stability,
        l.querySelector('.text').textContent,
        ...(l.dataset.alert ? [l.dataset.alert, l.querySelector('.tag').textContent] : []),
      ]),
      alerts: [...document.querySelectorAll('#alerts li')].map((l) => [l.dataset.severity, l.textContent]),
      level: window.TranscriptView.level(window.t),
    };
  }, events);
}

async function fresh(page) {
  await page.evaluate(() => {
    window.t = window.TranscriptView.create();
    document.querySelector('#box .lines').textContent = '';
  });
}

async function viewRules(browser) {
  const page = await browser.newPage();
  await page.setContent(
    '<div id="box" class="transcript"><ol class="lines"></ol><div class="pauses"></div></div><ul id="alerts"></ul>'
  );
  await page.addScriptTag({ path: join(ASSETS_DIR, 'transcript-view.js') });
  let checks = 0;
  const check = async (what, events, want) => {
    same(what, (await feed(page, events)).lines, want);
    checks++;
  };

  log('part 1: the transcript view');
  await fresh(page);
  await check('a partial shows as it comes', [partial('customer', 0, 800, 'I want')], [['customer', 'partial', 'I want']]);
  await check(
    "a partial replaces the leg's previous partial",
    [partial('customer', 0, 1600, 'I want to cancel')],
    [['customer', 'partial', 'I want to cancel']]
  );
  await check(
    "the other leg's partial stands beside it",
    [partial('agent', 100, 900, 'Mhm')],
    [['customer', 'partial', 'I want to cancel'], ['agent', 'partial', 'Mhm']]
  );
  await check(
    "a final replaces the leg's partial, and its next partial follows",
    [final('customer', 0, 1200, 'I want to'), partial('customer', 1200, 2000, 'cancel my')],
    [['customer', 'final', 'I want to'], ['customer', 'partial', 'cancel my'], ['agent', 'partial', 'Mhm']]
  );
  await check(
    'a partial that re-reads the committed end does not repeat it',
    [partial('customer', 1200, 2400, 'to cancel my account')],
    [['customer', 'final', 'I want to'], ['customer', 'partial', 'cancel my account'], ['agent', 'partial', 'Mhm']]
  );
  const f2 = final('customer', 1200, 2600, 'To cancel my account.');
  await check(
    'a final that repeats the committed prefix shows its new words only',
    [f2],
    [['customer', 'final', 'I want to'], ['customer', 'final', 'cancel my account.'], ['agent', 'partial', 'Mhm']]
  );
  await check(
    'the same final again (live after the stored copy, or the other way) shows once',
    [{ ...stored(f2), type: 'transcript.final', seq: 0 }, f2],
    [['customer', 'final', 'I want to'], ['customer', 'final', 'cancel my account.'], ['agent', 'partial', 'Mhm']]
  );
  await check(
    "an alert marks the final that said it",
    [alert('customer', 1200, 2600, 'cancel my account', 'critical', { text: 'To cancel my account.' })],
    [
      ['customer', 'final', 'I want to'],
      ['customer', 'final', 'cancel my account.', 'critical', 'cancel my account'],
      ['agent', 'partial', 'Mhm'],
    ]
  );
  const drawn = await feed(page, [
    { ...storedAlert(alert('customer', 1200, 2600, 'cancel my account', 'critical')), type: 'transcript.alert', seq: 0 },
  ]);
  same('an alert listed once', drawn.alerts, [['critical', 'critical: “cancel my account” (Customer)']]);
  same('the highest severity', drawn.level, 'critical');
  // The agent speaks after the customer, though its own clock reads less.
  await check(
    'both legs interleave by when they were spoken',
    [final('agent', 3_000, 4_200, 'I can help with that.'), final('customer', 24_500, 25_000, 'Thanks.')],
    [
      ['customer', 'final', 'I want to'],
      ['customer', 'final', 'cancel my account.', 'critical', 'cancel my account'],
      ['agent', 'final', 'I can help with that.'],
      ['customer', 'final', 'Thanks.'],
    ]
  );

  await fresh(page);
  await check(
    'words after a gap are words of their own, repeated or not',
    [final('customer', 0, 500, 'No.'), final('customer', 2_000, 3_000, 'No, thanks.')],
    [['customer', 'final', 'No.'], ['customer', 'final', 'No, thanks.']]
  );
  // The agent's panel reconnected: its new leg's clock starts at 0 again, 30 s into the call.
  const again = { spoken_at: T0 + AGENT_BEGAN + 30_000 + 200 };
  await check(
    "a leg whose clock began again still lands at the end",
    [final('agent', 8_000, 9_000, 'Let me check.'), final('agent', 200, 900, 'Back again.', again)],
    [['customer', 'final', 'No.'], ['customer', 'final', 'No, thanks.'], ['agent', 'final', 'Let me check.'], ['agent', 'final', 'Back again.']]
  );
  await check(
    'an alert that arrives before its final marks it when it comes',
    [alert('customer', 60_000, 61_000, 'refund', 'info'), final('customer', 60_000, 61_000, 'A refund, please.')],
    [
      ['customer', 'final', 'No.'],
      ['customer', 'final', 'No, thanks.'],
      ['agent', 'final', 'Let me check.'],
      ['agent', 'final', 'Back again.'],
      ['customer', 'final', 'A refund, please.', 'info', 'refund'],
    ]
  );
  await page.close();
  return checks;
}

// ------------------------------------------------------------------------------ part 2

const BASE = 'http://switchyard.test';
const CALL = {
  id: 'c1',
  queue: 'support',
  state: 'connected',
  held: false,
  from: '+15550123',
  agent: 'alice',
  created_at: T0,
  answered_at: T0 + AGENT_BEGAN,
  journey: [],
};
const OTHER = { ...CALL, id: 'c2', from: '+15550456', agent: 'bob', created_at: T0 + 1_000 };

/** A mocked server: the pages from web/assets, the REST API from `api`, the events from the
 * test (`server.send`). `hold` delays GET /calls/c1/transcript until released. */
async function mockServer(page) {
  const server = {
    transcript: { call_id: 'c1', stored: true, segments: [], alerts: [] },
    fetched: 0,
    hold: null,
    socket: null,
    connected: 0,
    send(e) {
      if (!this.socket) fail('the page has no event stream open');
      this.socket.send(JSON.stringify(e));
    },
  };
  const file = (name) => readFileSync(join(ASSETS_DIR, name));
  const type = (name) => (name.endsWith('.js') ? 'text/javascript' : name.endsWith('.css') ? 'text/css' : 'text/html');
  const json = (route, body) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
  await page.route(`${BASE}/**`, async (route) => {
    const url = new URL(route.request().url());
    const p = url.pathname;
    if (p === '/supervisor') return route.fulfill({ status: 200, contentType: 'text/html', body: file('supervisor.html') });
    if (p.startsWith('/assets/')) {
      const name = p.slice('/assets/'.length);
      return route.fulfill({ status: 200, contentType: type(name), body: file(name) });
    }
    if (p === '/api/v1/transcription') {
      return json(route, { enabled: true, model: 'test.bin', queues: [{ queue: 'support', mode: 'both', stored: true }] });
    }
    if (p === '/api/v1/queues') return json(route, { queues: [{ id: 'support', name: 'Support', colour: '#2f80ed' }] });
    if (p === '/api/v1/agents') return json(route, { agents: [{ id: 'alice', name: 'Alice' }, { id: 'bob', name: 'Bob' }] });
    if (p === '/api/v1/calls') return json(route, { calls: url.searchParams.get('state') === 'connected' ? [CALL, OTHER] : [] });
    if (p === '/api/v1/calls/c1') return json(route, CALL);
    if (p === '/api/v1/calls/c2') return json(route, OTHER);
    if (p === '/api/v1/calls/c1/transcript') {
      if (server.hold) await server.hold;
      server.fetched++;
      return json(route, server.transcript);
    }
    if (p === '/api/v1/calls/c2/transcript') return json(route, { call_id: 'c2', stored: true, segments: [], alerts: [] });
    return route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":{"code":"not_found","message":"no"}}' });
  });
  await page.routeWebSocket(
    (url) => url.pathname === '/api/v1/events',
    (ws) => {
      server.socket = ws;
      server.connected++;
      ws.send(JSON.stringify({ type: 'stream.hello', user: 'sam', role: 'supervisor' }));
    }
  );
  await page.addInitScript(() => {
    sessionStorage.setItem('switchyard.supervisor.session', JSON.stringify({ token: 'tok', username: 'sam', role: 'supervisor' }));
  });
  return server;
}

/** What the supervisor page shows of call c1 and the rows' alert marks. */
async function shown(page) {
  return page.evaluate(() => {
    const box = document.getElementById('transcript');
    const row = (id) => document.querySelector(`#calls li[data-call-id="${id}"]`);
    const flag = (id) => {
      const f = row(id) && row(id).querySelector('.alert-flag');
      return f && !f.hidden ? f.textContent : null;
    };
    return {
      call: box.dataset.callId,
      lines: [...box.querySelectorAll('.line')].map((l) => [
        l.dataset.leg,
        l.dataset.stability,
        l.querySelector('.text').textContent,
        ...(l.dataset.alert ? [l.dataset.alert] : []),
      ]),
      alerts: [...document.querySelectorAll('#transcript-alerts li')].map((l) => l.dataset.severity),
      rows: {
        c1: row('c1') ? [row('c1').dataset.alert || null, flag('c1')] : null,
        c2: row('c2') ? [row('c2').dataset.alert || null, flag('c2')] : null,
      },
      link: document.getElementById('link').textContent,
      error: document.getElementById('error').hidden ? null : document.getElementById('error-text').textContent,
    };
  });
}

async function expectShown(page, what, pick, want) {
  const got = await waitFor(what, () => shown(page), (s) => JSON.stringify(pick(s)) === JSON.stringify(want), 5_000, 50);
  if (got.error) fail(`the page shows an error: ${got.error}`);
  return got;
}

async function supervisorPage(browser) {
  log('part 2: /supervisor against a mocked server');
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const server = await mockServer(page);
  await page.goto(`${BASE}/supervisor`);
  await expectShown(page, 'the page to show call c1, live', (s) => [s.call, s.link], ['c1', 'live']);
  await waitFor('the stored transcript to be fetched', () => server.fetched, (n) => n === 1, 5_000, 50);
  const lines = (s) => s.lines;

  server.send(partial('customer', 0, 800, 'I want'));
  await expectShown(page, 'the first partial', lines, [['customer', 'partial', 'I want']]);
  server.send(partial('customer', 0, 1_600, 'I want to cancel'));
  await expectShown(page, 'the partial replaced', lines, [['customer', 'partial', 'I want to cancel']]);
  const f1 = final('customer', 0, 1_200, 'I want to');
  server.send(f1);
  server.send(partial('customer', 1_200, 2_000, 'cancel my'));
  await expectShown(page, 'the final and the next partial', lines, [
    ['customer', 'final', 'I want to'],
    ['customer', 'partial', 'cancel my'],
  ]);
  const f2 = final('customer', 1_200, 2_600, 'to cancel my account.');
  server.send(f2);
  await expectShown(page, 'the repeated prefix shown once, the partial gone', lines, [
    ['customer', 'final', 'I want to'],
    ['customer', 'final', 'cancel my account.'],
  ]);
  const a1 = alert('customer', 1_200, 2_600, 'cancel my account', 'critical', { text: f2.text });
  server.send(a1);
  await expectShown(page, 'the alert on its line, in the list and on the row', (s) => [s.lines, s.alerts, s.rows.c1], [
    [['customer', 'final', 'I want to'], ['customer', 'final', 'cancel my account.', 'critical']],
    ['critical'],
    ['critical', '⚠ cancel my account'],
  ]);
  // A call not shown: its row lights up too.
  server.send({ ...alert('customer', 500, 900, 'refund', 'info'), call_id: 'c2', agents: ['bob'] });
  await expectShown(page, "the other call's row", (s) => s.rows.c2, ['info', '⚠ refund']);
  const f3 = final('agent', 3_000, 4_200, 'I can help with that.');
  server.send(f3);
  await expectShown(page, "the agent's words after the customer's", lines, [
    ['customer', 'final', 'I want to'],
    ['customer', 'final', 'cancel my account.', 'critical'],
    ['agent', 'final', 'I can help with that.'],
  ]);

  log('part 2: reload mid-call');
  server.transcript = {
    call_id: 'c1',
    stored: true,
    segments: [f1, f2, f3].map(stored),
    alerts: [storedAlert(a1)],
  };
  let release;
  server.hold = new Promise((r) => {
    release = r;
  });
  const connected = server.connected;
  await page.reload();
  await waitFor('the event stream to open again', () => server.connected, (n) => n > connected, 5_000, 50);
  await expectShown(page, 'the page to show c1 again', (s) => s.call, 'c1');
  // A final already stored arrives live before the fetch answers...
  server.send(f3);
  await expectShown(page, 'the live final', lines, [['agent', 'final', 'I can help with that.']]);
  release();
  server.hold = null;
  const all = [
    ['customer', 'final', 'I want to'],
    ['customer', 'final', 'cancel my account.', 'critical'],
    ['agent', 'final', 'I can help with that.'],
  ];
  await expectShown(page, 'the stored transcript, each final once, the alert back', (s) => [s.lines, s.alerts, s.rows.c1], [
    all,
    ['critical'],
    ['critical', '⚠ cancel my account'],
  ]);
  // ...and one arrives after it (its event was on the way): still once. Then new words.
  server.send(f2);
  server.send(a1);
  const f4 = final('customer', 24_500, 25_000, 'Thanks.');
  server.send(f4);
  const after = await expectShown(page, 'new words after, nothing twice', lines, [...all, ['customer', 'final', 'Thanks.']]);
  await page.close();
  return after.lines.length;
}

async function main() {
  for (const f of [CHROMIUM, join(ASSETS_DIR, 'transcript-view.js')]) if (!existsSync(f)) fail(`missing ${f}`);
  const browser = await launchChromium(CHROMIUM, { media: false });
  try {
    const checks = await viewRules(browser);
    const supervisorLines = await supervisorPage(browser);
    return { view_checks: checks, supervisor_lines: supervisorLines };
  } finally {
    await browser.close().catch(() => {});
  }
}

run(main);
