/*
 * Switchyard supervisor view (/supervisor): every live call (waiting, ringing, connected, on
 * hold) with its queue, caller, agent, state and a timer, and the live transcript of the call
 * picked (the first live call until one is picked; each call's row also shows its latest
 * words, to glance at several at once). Plain ES2020, no build step; from a phone to a
 * wallboard.
 *
 * How it keeps in step: GET /calls (per live state, and the last ended ones) at load, on
 * every (re)connection of the event stream and every 15 s; each call.* event patches the
 * call at once and GET /calls/{id} confirms it. transcript.* events build each call's
 * transcript: finals are kept, a leg's partial replaces its previous partial, paused/resumed
 * show and clear a marker. A transcript event for a call not listed yet adds the call. Ended
 * calls move to "Recent" for 10 minutes (their transcript stays while they are listed). Each
 * listed call's stored transcript is loaded once (GET /calls/{id}/transcript): its keyword
 * alerts, and its finals when the queue keeps them (a reload mid-call keeps what was said);
 * a final both loaded and received live shows once (transcript-view.js has the rules).
 * transcript.alert events highlight the final that said the phrase and the call's row.
 *
 * Stable element ids and attributes (for tests and automation):
 *   Login      #login-form, #username, #password, #login; #logout; #who (signed-in user)
 *   Errors     #error (shown while an error is), #error-text, #error-close
 *   Wallboard  #wallboard-rows, a tr[data-queue] per queue (J1), cells .waiting (nobody
 *              ringing for them), .ringing (ringing an agent), .longest
 *              (m:ss, counting; data-late="true" past the service-level threshold), .sl
 *              (percent with the threshold, "—" before the first answer; data-low="true"
 *              under 80 %), .ready, .on-call, .wrap-up, .away. From GET /queues every
 *              3 s and shortly after each call or status event.
 *   Queue alerts #queue-alerts: queue.alert events raised to supervisors (an extension such
 *              as an SLA watcher), newest first, the last 10 since the page opened:
 *              li.alert[data-severity][data-queue] with .when, .queue and .text; the
 *              queue's wallboard row gets data-alert (its highest severity) for 10 minutes.
 *   Live link  #link ("live" while the event stream is open)
 *   State      #transcription-state (text; data-enabled="true" | "false", "" until known)
 *   Calls      #calls (live calls), #recent (ended ones), each call an
 *              li[data-call-id][data-state] with data-state one of waiting, offering
 *              (ringing), dialing, connected, held (connected and on hold), ended, failed;
 *              aria-current="true" on the call shown; its button picks it;
 *              data-alert="info|warning|critical" (the highest of its keyword alerts) and
 *              its .alert-flag (the latest alert's phrase) once a phrase was said.
 *              #calls-count, #calls-empty, #recent-panel, #recent-count
 *   Transcript #transcript (data-call-id = the call shown, "" for none), #transcript-queue,
 *              #transcript-call, #transcript-note (why there is nothing: transcription
 *              off, queue not transcribed, not answered yet…);
 *              lines .line[data-leg="agent|customer"][data-stability="partial|final"]
 *              (data-agent on agent lines) in spoken order, each .who + .text (+ .tag);
 *              a final that said alert phrases: .line.alert[data-alert]; the call's alerts
 *              in #transcript-alerts, li.alert[data-severity][data-leg];
 *              pause markers .paused[data-leg][data-reason="hold|mask|not_connected"]
 */
'use strict';

(() => {
  const API = '/api/v1';
  const SESSION_KEY = 'switchyard.supervisor.session';
  const LIVE_STATES = ['waiting', 'offering', 'dialing', 'connected'];
  const RECENT_MS = 10 * 60 * 1000;
  const RECENT_MAX = 20;
  const POLL_MS = 15000;
  const WALLBOARD_MS = 3000;
  const QUEUE_ALERTS_MAX = 10;
  const QUEUE_ALERT_MS = 10 * 60 * 1000;
  const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 };
  const STATE_LABEL = {
    waiting: 'Waiting',
    offering: 'Ringing',
    dialing: 'Dialing',
    connected: 'Connected',
    held: 'On hold',
    ended: 'Ended',
    failed: 'Failed',
  };

  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  const state = {
    session: null, // {token, username, role}
    queues: new Map(), // id -> queue view (name, colour)
    agents: new Map(), // id -> name
    transcription: null, // GET /transcription
    calls: new Map(), // id -> call (GET /calls/{id} shape, possibly patched by events)
    transcripts: new Map(), // call id -> transcript (see newTranscript)
    selected: null, // the call picked; null: the first live call
    shown: null, // the call whose transcript shows (set at each render)
    auto: null, // the call shown while none is picked
    skew: 0, // server clock minus ours (ms)
    ws: null,
    wsRetry: 0,
    wsTimer: null,
    ticker: null,
    poller: null,
    wallboardPoller: null,
    queuesAt: 0, // when state.queues was read (our clock)
    queuesTimer: null,
    renderTimer: null,
    bgError: false,
  };

  // ---------------------------------------------------------------- helpers

  const now = () => Date.now() + state.skew;
  const isFinal = (c) => c.state === 'ended' || c.state === 'failed';
  const shownState = (c) => (c.state === 'connected' && c.held ? 'held' : c.state);

  function fmtDuration(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
  }

  const queueName = (id) => (state.queues.get(id) || {}).name || id || '?';
  const agentName = (id) => state.agents.get(id) || id;

  function colourise(el, queueId) {
    const q = state.queues.get(queueId);
    if (q && q.colour) el.style.setProperty('--queue-colour', q.colour);
    else el.style.removeProperty('--queue-colour');
  }

  /** The queue's transcript mode: off, agent, customer or both (off when transcription is). */
  function queueMode(queueId) {
    const t = state.transcription;
    if (!t || !t.enabled) return 'off';
    const q = (t.queues || []).find((x) => x.queue === queueId);
    return q ? q.mode : 'off';
  }

  function noteServerTime(res) {
    const d = res.headers.get('date');
    const server = d ? Date.parse(d) : NaN;
    if (Number.isNaN(server)) return;
    const off = server + 500 - Date.now();
    state.skew = Math.abs(off) > 2000 ? off : 0;
  }

  async function api(method, path, body) {
    const headers = {};
    if (state.session) headers.authorization = `Bearer ${state.session.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new Error(`cannot reach the server (${method} ${path}): ${e.message}`);
    }
    noteServerTime(res);
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = null;
    }
    if (!res.ok) {
      const err = new Error((data && data.error && data.error.message) || `${method} ${path}: HTTP ${res.status}`);
      err.status = res.status;
      if (res.status === 401 && state.session) logout('Your session has ended: please log in again.');
      throw err;
    }
    return data;
  }

  function showError(e, background = false) {
    console.error('switchyard:', e);
    $('error-text').textContent = e && e.message ? e.message : String(e);
    $('error').hidden = false;
    state.bgError = background;
  }

  function clearError() {
    $('error').hidden = true;
    $('error-text').textContent = '';
    state.bgError = false;
  }

  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  // ---------------------------------------------------------------- live transcript
  // The transcript model and renderer live in transcript-view.js (loaded before this script
  // by supervisor.html).
  const {
    create: newTranscript,
    apply: applyTranscript,
    lines: transcriptLines,
    alerts: transcriptAlerts,
    level: alertLevel,
    render: renderTranscript,
  } = window.TranscriptView;

  // ---------------------------------------------------------------- session

  function loadSession() {
    try {
      const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
      if (s && s.token) return s;
    } catch (_) {
      /* a damaged entry is the same as none */
    }
    return null;
  }

  async function login(ev) {
    ev.preventDefault();
    clearError();
    const username = $('username').value.trim();
    const password = $('password').value;
    $('login').disabled = true;
    try {
      const s = await api('POST', '/sessions', { username, password });
      if (s.role !== 'supervisor' && s.role !== 'admin') {
        throw new Error(`${username} signs in as ${s.role}: this view is for supervisors and admins (agents use /agent)`);
      }
      state.session = { token: s.token, username, role: s.role };
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
      $('password').value = '';
      await start();
    } catch (e) {
      showError(e);
    } finally {
      $('login').disabled = false;
    }
  }

  function logout(message) {
    state.session = null;
    state.lastSeq = null;
    sessionStorage.removeItem(SESSION_KEY);
    if (state.ws) {
      const ws = state.ws;
      state.ws = null;
      ws.close();
    }
    clearTimeout(state.wsTimer);
    clearInterval(state.ticker);
    clearInterval(state.poller);
    clearInterval(state.wallboardPoller);
    state.calls.clear();
    state.transcripts.clear();
    state.selected = null;
    state.transcription = null;
    render();
    if (message) showError(new Error(message));
  }

  async function start() {
    render();
    await Promise.all([loadTranscription(), loadQueues(), loadAgents()]);
    await reload();
    connectEvents();
    clearInterval(state.ticker);
    state.ticker = setInterval(tick, 1000);
    clearInterval(state.poller);
    state.poller = setInterval(() => {
      reload();
      loadTranscription();
    }, POLL_MS);
    clearInterval(state.wallboardPoller);
    state.wallboardPoller = setInterval(() => loadQueues().then(renderWallboard), WALLBOARD_MS);
  }

  /** The wallboard soon after something changed (several events, one read). */
  function queuesSoon() {
    if (state.queuesTimer) return;
    state.queuesTimer = setTimeout(() => {
      state.queuesTimer = null;
      loadQueues().then(renderWallboard);
    }, 300);
  }

  async function loadTranscription() {
    try {
      state.transcription = await api('GET', '/transcription');
    } catch (e) {
      if (state.session) showError(new Error(`live transcription status: ${e.message}`), true);
    }
    scheduleRender();
  }

  async function loadQueues() {
    try {
      const r = await api('GET', '/queues');
      state.queues = new Map((r.queues || []).map((q) => [q.id, q]));
      state.queuesAt = Date.now();
    } catch (e) {
      if (state.session) showError(e, true);
    }
  }

  async function loadAgents() {
    try {
      const r = await api('GET', '/agents');
      state.agents = new Map((r.agents || []).map((a) => [a.id, a.name || a.id]));
    } catch (e) {
      if (state.session) showError(e, true);
    }
  }

  // ---------------------------------------------------------------- calls

  let reloading = null;

  /** The live calls and the last ended ones from the API. */
  function reload() {
    if (reloading) return reloading;
    reloading = (async () => {
      try {
        const lists = await Promise.all([
          ...LIVE_STATES.map((s) => api('GET', `/calls?state=${s}&limit=1000`)),
          api('GET', `/calls?state=ended&limit=${RECENT_MAX}`),
        ]);
        const live = new Set();
        for (const l of lists.slice(0, LIVE_STATES.length)) {
          for (const c of l.calls || []) {
            live.add(c.id);
            upsertCall(c);
          }
        }
        for (const c of lists[LIVE_STATES.length].calls || []) {
          if (state.calls.has(c.id) || now() - (c.ended_at || 0) < RECENT_MS) upsertCall(c);
        }
        // A call shown as live but in none of the lists changed meanwhile: look at it.
        for (const c of state.calls.values()) if (!isFinal(c) && !live.has(c.id)) refreshCall(c.id);
        if (state.bgError) clearError();
      } catch (e) {
        if (state.session) showError(e, true);
      } finally {
        reloading = null;
        scheduleRender();
      }
    })();
    return reloading;
  }

  const fetching = new Map(); // call id -> {again}

  /** GET /calls/{id}; calls for the same call while one is out make one more round. */
  function refreshCall(id) {
    const f = fetching.get(id);
    if (f) {
      f.again = true;
      return;
    }
    const round = { again: false };
    fetching.set(id, round);
    (async () => {
      do {
        round.again = false;
        try {
          upsertCall(await api('GET', `/calls/${enc(id)}`));
        } catch (e) {
          if (e.status === 404) dropCall(id);
          else if (state.session) showError(e, true);
        }
      } while (round.again && state.session);
      fetching.delete(id);
    })();
  }

  function upsertCall(c) {
    if (!c || !c.id) return;
    const old = state.calls.get(c.id);
    // An answer older than what the events already said (a shorter journey) is stale.
    if (old && old.journey && c.journey && c.journey.length < old.journey.length) return;
    const call = { ...old, ...c };
    if (isFinal(call) && !call.ended_at) call.ended_at = (old && old.ended_at) || now();
    state.calls.set(c.id, call);
    backfill(c.id);
    scheduleRender();
  }

  function dropCall(id) {
    state.calls.delete(id);
    state.transcripts.delete(id);
    if (state.selected === id) state.selected = null;
    scheduleRender();
  }

  /** What a call event says at once (GET /calls/{id} follows with the whole truth). */
  function patchFromEvent(e) {
    const old = state.calls.get(e.call_id);
    const c = old
      ? { ...old }
      : { id: e.call_id, state: 'waiting', held: false, agent: null, offered: [], created_at: e.at };
    c.queue = e.queue || c.queue;
    c.from = e.from || c.from;
    if (e.event) c.journey = [...(c.journey || []), { event: e.event, at: e.at }];
    switch (e.type) {
      case 'call.queued':
        c.state = 'waiting';
        break;
      case 'call.offered':
        c.state = 'offering';
        c.offered = [...new Set([...(c.offered || []), e.agent].filter(Boolean))];
        if (!c.enqueued_at) c.enqueued_at = e.at;
        break;
      case 'call.answered':
      case 'call.taken':
        c.state = 'connected';
        c.agent = e.agent || c.agent;
        if (!c.answered_at) c.answered_at = e.at;
        break;
      case 'call.held':
        c.held = true;
        break;
      case 'call.resumed':
        c.held = false;
        break;
      case 'call.ended':
      case 'call.failed':
        c.state = e.type === 'call.ended' ? 'ended' : 'failed';
        c.ended_at = e.at;
        c.held = false;
        break;
      default:
        break;
    }
    state.calls.set(c.id, c);
  }

  /** A call's timer: waiting time until answered, then talk time, then the call's length. */
  function timerText(c) {
    const t = now();
    const waitFrom = c.enqueued_at || c.created_at;
    if (c.state === 'connected') return fmtDuration(t - (c.answered_at || waitFrom || t));
    if (isFinal(c)) {
      const from = c.answered_at || waitFrom;
      return from && c.ended_at ? fmtDuration(c.ended_at - from) : '';
    }
    return waitFrom ? fmtDuration(t - waitFrom) : '';
  }

  function agentText(c) {
    if (c.agent) return agentName(c.agent);
    if (c.state === 'offering' && c.offered && c.offered.length) return `ringing ${c.offered.map(agentName).join(', ')}`;
    return '';
  }

  function speaker(s) {
    if (s.leg === 'customer') return 'Customer';
    return s.agent ? agentName(s.agent) : 'Agent';
  }

  // ---------------------------------------------------------------- events

  function connectEvents() {
    if (!state.session || state.ws) return;
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    // After a drop, resume from the last event seen: the server replays what was missed.
    const since = state.lastSeq != null ? `&since=${state.lastSeq}` : '';
    const ws = new WebSocket(`${proto}://${location.host}${API}/events?token=${enc(state.session.token)}${since}`);
    state.ws = ws;
    ws.onopen = () => {
      state.wsRetry = 0;
      setLink(true);
      reload();
      loadTranscription(); // a restarted server may have another setting
    };
    ws.onmessage = (ev) => {
      let e;
      try {
        e = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      if (e && typeof e.seq === 'number') {
        // hello and reset give the position now; on a resumed stream the replay follows hello.
        if (e.type === 'stream.reset' || (e.type === 'stream.hello' && state.lastSeq == null)) state.lastSeq = e.seq;
        else if (e.type !== 'stream.hello') state.lastSeq = Math.max(state.lastSeq ?? 0, e.seq);
      }
      onEvent(e);
    };
    ws.onclose = () => {
      if (state.ws !== ws) return;
      state.ws = null;
      setLink(false);
      if (!state.session) return;
      const delay = Math.min(15000, 500 * 2 ** state.wsRetry++);
      state.wsTimer = setTimeout(connectEvents, delay);
    };
  }

  function setLink(live) {
    const l = $('link');
    l.textContent = live ? 'live' : 'offline';
    l.classList.toggle('on', !live);
    l.title = live ? 'Live events' : 'Event stream disconnected: reconnecting';
  }

  function onEvent(e) {
    if (!e || !e.type) return;
    if (e.type === 'stream.lagged' || e.type === 'stream.reset') {
      reload();
      queuesSoon();
      return;
    }
    if (e.type === 'queue.alert') {
      showQueueAlert(e);
      return;
    }
    if (e.type === 'agent.status' || (e.type.startsWith('call.') && !e.type.startsWith('call.data'))) queuesSoon();
    if (e.type.startsWith('transcript.') && e.call_id) {
      if (!state.calls.has(e.call_id)) {
        // Words from a call not listed yet: it is talking; list it, then look it up.
        state.calls.set(e.call_id, {
          id: e.call_id,
          state: 'connected',
          held: false,
          queue: e.queue,
          from: '',
          agent: (e.agents || [])[0] || null,
          created_at: e.at,
          answered_at: e.at,
        });
        refreshCall(e.call_id);
      }
      let t = state.transcripts.get(e.call_id);
      if (!t) state.transcripts.set(e.call_id, (t = newTranscript()));
      if (applyTranscript(t, e)) scheduleRender();
      backfill(e.call_id);
      return;
    }
    if (e.type.startsWith('call.') && e.call_id) {
      patchFromEvent(e);
      refreshCall(e.call_id);
      scheduleRender();
    }
  }

  /** A call's stored transcript, once per call: its keyword alerts, and its finals when
   * the queue keeps them (a reload mid-call keeps what was said). Only for calls of a queue
   * that is transcribed. */
  async function backfill(id) {
    const c = state.calls.get(id);
    if (!c || queueMode(c.queue) === 'off') return;
    let t = state.transcripts.get(id);
    if (t && t.backfilled) return;
    if (!t) state.transcripts.set(id, (t = newTranscript()));
    t.backfilled = true;
    try {
      const r = await api('GET', `/calls/${enc(id)}/transcript`);
      for (const s of r.segments || []) {
        applyTranscript(t, { ...s, type: 'transcript.final', lag_ms: 0, seq: 0 });
      }
      for (const a of r.alerts || []) applyTranscript(t, { ...a, type: 'transcript.alert', seq: 0 });
      scheduleRender();
    } catch (e) {
      t.backfilled = false;
      if (e.status === 404) return;
      if (state.session) showError(new Error(`stored transcript: ${e.message}`), true);
    }
  }

  // ---------------------------------------------------------------- view

  function scheduleRender() {
    if (state.renderTimer) return;
    state.renderTimer = setTimeout(() => {
      state.renderTimer = null;
      render();
    }, 40);
  }

  function sortedCalls() {
    const live = [];
    const recent = [];
    for (const c of state.calls.values()) (isFinal(c) ? recent : live).push(c);
    live.sort((a, b) => (a.created_at || 0) - (b.created_at || 0) || String(a.id).localeCompare(String(b.id)));
    recent.sort((a, b) => (b.ended_at || 0) - (a.ended_at || 0));
    return { live, recent };
  }

  function callItem(items, c) {
    let li = items.get(c.id);
    if (li) items.delete(c.id);
    else {
      li = el('li', 'call');
      li.dataset.callId = c.id;
      const b = el('button', 'pick');
      b.type = 'button';
      const top = el('span', 'row');
      top.append(el('span', 'badge'), el('span', 'from grow'), el('span', 'timer'));
      const mid = el('span', 'row small');
      mid.append(
        el('span', 'flag call-state'),
        el('span', 'agent grow muted'),
        el('span', 'flag alert-flag'),
        el('span', 'flag notx')
      );
      b.append(top, mid, el('span', 'preview small'));
      li.appendChild(b);
    }
    const st = shownState(c);
    li.dataset.state = st;
    li.dataset.queue = c.queue || '';
    if (c.id === state.shown) li.setAttribute('aria-current', 'true');
    else li.removeAttribute('aria-current');
    const badge = li.querySelector('.badge');
    colourise(li, c.queue);
    badge.textContent = queueName(c.queue);
    li.querySelector('.from').textContent = c.from || '…';
    li.querySelector('.timer').textContent = timerText(c);
    const flag = li.querySelector('.call-state');
    flag.textContent = STATE_LABEL[st] || st;
    flag.dataset.state = st;
    li.querySelector('.agent').textContent = agentText(c);
    const mode = queueMode(c.queue);
    const notx = li.querySelector('.notx');
    notx.hidden = !(state.transcription && state.transcription.enabled && mode === 'off');
    notx.textContent = 'not transcribed';
    const t = state.transcripts.get(c.id);
    const level = alertLevel(t);
    if (level) li.dataset.alert = level;
    else delete li.dataset.alert;
    const flagged = li.querySelector('.alert-flag');
    const alerts = transcriptAlerts(t);
    flagged.hidden = !alerts.length;
    if (alerts.length) {
      const latest = alerts[alerts.length - 1];
      flagged.dataset.severity = latest.severity;
      flagged.textContent = `⚠ ${latest.phrase}${alerts.length > 1 ? ` (+${alerts.length - 1})` : ''}`;
      flagged.title = alerts.map((a) => `${a.severity}: ${a.phrase}`).join('\n');
    }
    const last = latestLine(t);
    const preview = li.querySelector('.preview');
    preview.textContent = last ? `${speaker(last)}: ${last.text}` : '';
    preview.hidden = !last;
    preview.classList.toggle('partial', !!last && last.stability === 'partial');
    return li;
  }

  /** The transcript's latest line (remembered until the transcript changes). */
  function latestLine(t) {
    if (!t) return null;
    if (t.lastRev !== t.rev) {
      const lines = transcriptLines(t);
      t.last = lines[lines.length - 1] || null;
      t.lastRev = t.rev;
    }
    return t.last;
  }

  function renderList(list, calls) {
    const items = new Map([...list.children].map((li) => [li.dataset.callId, li]));
    calls.forEach((c, i) => {
      const li = callItem(items, c);
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    });
    for (const li of items.values()) li.remove();
  }

  /** The call whose transcript shows: the one picked; else the first connected call, or
   * the first live one, which stays shown after it ends until another call is live. */
  function shownCallId() {
    if (state.selected && state.calls.has(state.selected)) return state.selected;
    const auto = state.calls.get(state.auto);
    if (auto && auto.state === 'connected') return auto.id;
    const { live } = sortedCalls();
    const next = live.find((c) => c.state === 'connected') || (auto && !isFinal(auto) ? auto : live[0]);
    if (next) state.auto = next.id;
    return next ? next.id : auto ? auto.id : null;
  }

  function renderState() {
    const box = $('transcription-state');
    const t = state.transcription;
    box.classList.toggle('warn', !!t && !t.enabled);
    if (!t) {
      box.dataset.enabled = '';
      box.textContent = 'Checking live transcription…';
      return;
    }
    box.dataset.enabled = String(!!t.enabled);
    if (!t.enabled) {
      box.textContent = 'Live transcription is off: no whisper model configured.';
      return;
    }
    const off = (t.queues || []).filter((q) => q.mode === 'off').map((q) => queueName(q.queue));
    const part = (t.queues || [])
      .filter((q) => q.mode === 'agent' || q.mode === 'customer')
      .map((q) => `${queueName(q.queue)}: ${q.mode} side only`);
    let text = `Live transcription is on${t.model ? ` (model ${t.model})` : ''}.`;
    if (part.length) text += ` ${part.join('; ')}.`;
    if (off.length) text += ` Not transcribed: ${off.join(', ')}.`;
    box.textContent = text;
  }

  /** A queue.alert: on top of #queue-alerts (the last few kept), and its queue's row flagged. */
  function showQueueAlert(e) {
    const list = $('queue-alerts');
    const li = el('li', 'alert');
    li.dataset.severity = e.severity;
    li.dataset.queue = e.queue;
    const when = new Date((e.at || Date.now()) - state.skew);
    li.append(
      el('span', 'when mono', when.toLocaleTimeString([], { hour12: false })),
      ' ',
      el('span', 'badge queue', queueName(e.queue)),
      ' ',
      el('span', 'text', e.text),
    );
    if (e.by) li.title = `raised by ${e.by}`;
    list.prepend(li);
    while (list.children.length > QUEUE_ALERTS_MAX) list.lastElementChild.remove();
    list.hidden = false;
    const flags = (state.queueAlerts ||= new Map());
    const prev = flags.get(e.queue);
    const fresh = prev && Date.now() - prev.at < QUEUE_ALERT_MS;
    const severity = fresh && SEVERITY_RANK[prev.severity] > SEVERITY_RANK[e.severity] ? prev.severity : e.severity;
    flags.set(e.queue, { severity, at: Date.now() });
    renderWallboard();
  }

  /** One row per queue: the line, the service level and the agents (J1). */
  function renderWallboard() {
    const body = $('wallboard-rows');
    if (!state.session) {
      body.textContent = '';
      return;
    }
    const seen = new Set();
    const since = Math.max(0, Math.floor((Date.now() - state.queuesAt) / 1000));
    for (const q of state.queues.values()) {
      seen.add(q.id);
      let tr = body.querySelector(`tr[data-queue="${CSS.escape(q.id)}"]`);
      if (!tr) {
        tr = document.createElement('tr');
        tr.dataset.queue = q.id;
        const name = el('th', 'queue');
        name.scope = 'row';
        name.append(el('span', 'badge', q.name || q.id));
        colourise(name.firstChild, q.id);
        tr.append(name);
        for (const cls of ['waiting', 'ringing', 'longest', 'sl', 'ready', 'on-call', 'wrap-up', 'away']) {
          tr.append(el('td', `num mono ${cls}`));
        }
        body.append(tr);
      }
      const cell = (cls) => tr.querySelector(`.${cls}`);
      // A ringing call's customer is still waiting: the longest wait counts both.
      const queued = q.waiting + (q.offering || 0);
      const longest = queued > 0 ? (q.longest_wait_secs || 0) + since : 0;
      cell('waiting').textContent = String(q.waiting);
      cell('ringing').textContent = String(q.offering || 0);
      cell('longest').textContent = queued > 0 ? fmtDuration(longest * 1000) : '—';
      cell('longest').dataset.late = String(queued > 0 && longest > q.service_level_secs);
      const sl = q.service_level;
      cell('sl').textContent = sl == null ? '—' : `${Math.round(sl * 100)} %`;
      cell('sl').title = `answered within ${q.service_level_secs} s: ${q.answered_within_sl} of ${q.answered}`;
      cell('sl').dataset.low = String(sl != null && sl < 0.8);
      cell('ready').textContent = String(q.agents_ready);
      cell('on-call').textContent = String(q.agents_on_call);
      cell('wrap-up').textContent = String(q.agents_wrap_up);
      cell('away').textContent = String(q.agents_away);
      const flag = state.queueAlerts && state.queueAlerts.get(q.id);
      if (flag && Date.now() - flag.at < QUEUE_ALERT_MS) tr.dataset.alert = flag.severity;
      else delete tr.dataset.alert;
    }
    for (const tr of [...body.children]) if (!seen.has(tr.dataset.queue)) tr.remove();
  }

  function renderTranscriptPane() {
    const id = state.shown;
    const c = id ? state.calls.get(id) : null;
    const box = $('transcript');
    if (box.dataset.callId !== (id || '')) {
      box.querySelector('.lines').textContent = '';
      box.dataset.callId = id || '';
      if (id) backfill(id);
    }
    const badge = $('transcript-queue');
    badge.hidden = !c;
    if (c) {
      colourise(badge, c.queue);
      badge.textContent = queueName(c.queue);
      const parts = [c.from || c.id, agentText(c), STATE_LABEL[shownState(c)] || c.state].filter(Boolean);
      $('transcript-call').textContent = parts.join(' · ');
    } else {
      $('transcript-call').textContent = '';
    }
    const t = id ? state.transcripts.get(id) : null;
    const lines = transcriptLines(t);
    let note = '';
    const tx = state.transcription;
    if (!c) note = 'Pick a call to see its live transcript.';
    else if (tx && !tx.enabled) note = 'Live transcription is off: no whisper model configured.';
    else if (tx && queueMode(c.queue) === 'off') note = `${queueName(c.queue)} calls are not transcribed (the queue's setting).`;
    else if (tx && ['agent', 'customer'].includes(queueMode(c.queue))) {
      note = `Only the ${queueMode(c.queue)}'s side of ${queueName(c.queue)} calls is transcribed.`;
    }
    if (!note && c && !lines.length) {
      if (['waiting', 'offering', 'dialing'].includes(c.state)) note = 'The transcript starts when the call is answered.';
      else if (isFinal(c)) note = 'Nothing was transcribed while this page was open.';
      else note = 'Waiting for words…';
    }
    $('transcript-note').hidden = !note;
    $('transcript-note').textContent = note;
    renderTranscript(box, t, speaker, $('transcript-alerts'));
  }

  function render() {
    const logged = !!state.session;
    $('login-form').hidden = logged;
    $('workspace').hidden = !logged;
    $('logout').hidden = !logged;
    $('who').textContent = logged ? `${state.session.username} (${state.session.role})` : '';
    if (!logged) {
      $('calls').textContent = '';
      $('recent').textContent = '';
      return;
    }
    renderState();
    renderWallboard();
    state.shown = shownCallId();
    const { live, recent } = sortedCalls();
    renderList($('calls'), live);
    renderList($('recent'), recent);
    $('calls-count').textContent = live.length ? `(${live.length})` : '';
    $('calls-empty').hidden = live.length > 0;
    $('recent-count').textContent = `(${recent.length})`;
    $('recent-panel').hidden = recent.length === 0;
    renderTranscriptPane();
  }

  /** Every second: the timers, and ended calls leave after a while. */
  function tick() {
    renderWallboard();
    const { recent } = sortedCalls();
    let changed = false;
    recent.forEach((c, i) => {
      if (i >= RECENT_MAX || now() - (c.ended_at || 0) > RECENT_MS) {
        dropCall(c.id);
        changed = true;
      }
    });
    if (changed) return;
    for (const li of document.querySelectorAll('.calls li[data-call-id]')) {
      const c = state.calls.get(li.dataset.callId);
      if (c) li.querySelector('.timer').textContent = timerText(c);
    }
  }

  // ---------------------------------------------------------------- wiring

  function pick(ev) {
    const li = ev.target.closest('li[data-call-id]');
    if (!li) return;
    state.selected = li.dataset.callId;
    render();
  }

  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', () => {
    clearError();
    // The server ends the token too (best effort: the page forgets it either way).
    const token = state.session && state.session.token;
    if (token) {
      fetch('/api/v1/sessions', { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })
        .catch(() => {});
    }
    logout();
  });
  $('error-close').addEventListener('click', clearError);
  $('calls').addEventListener('click', pick);
  $('recent').addEventListener('click', pick);

  state.session = loadSession();
  render();
  if (state.session) start();
  else $('username').focus();
})();
