/*
 * Switchyard agent phone panel (/agent): login, status, offers, in-call control, transfers,
 * wrap-up and the call log, with the call's audio over WebRTC. Plain ES2020, no build step.
 * Fits a CRM phone-panel iframe from 300px wide; works stand-alone too.
 *
 * How it keeps in step with the server: the REST API is the truth (GET /agents/{id}, then
 * GET /calls/{id} of the agent's call); the WebSocket event stream only says *when* to look
 * again (and adds journey steps to the call log at once). Every action's answer (the call or
 * agent JSON) is applied directly. Errors from the API are shown in #error, never swallowed.
 *
 * Stable element ids (for tests and CRM automation):
 *   Login      #login-form, #username, #password, #login; #logout; #who (signed-in user)
 *   Errors     #error (shown while an error is), #error-text, #error-close
 *   Live link  #link ("live" while the event stream is open)
 *   Status     #status (select: ready, busy = Not ready, dnd, break, training, pto, offline;
 *              the system statuses show disabled), #status-timer (time in the status)
 *              #held-calls (calls this agent put on hold to take another)
 *   Queues     #queue-stats: a row per queue of this agent ([data-queue]): its name in its
 *              colour, calls waiting, the longest wait, colleagues ready and on a call
 *              (GET /queues, every 5 s)
 *   Offer      #offer (the banner; data-call-id), #offer-queue (queue name in its colour),
 *              #offer-kind, #offer-from (caller's number), #offer-wait (the caller's wait),
 *              #offer-countdown (seconds left to answer), #accept, #decline
 *   In call    #call (data-call-id), #call-queue, #call-from, #call-timer, #flag-held,
 *              #flag-muted, #flag-recording, #media-state ("audio: connected"…),
 *              #reconnect-audio (shown when this page has no audio for its own call, e.g.
 *              the microphone was refused: tries again), #call-note,
 *              #hold (Hold / Resume; aria-pressed="true" while held),
 *              #mute (Mute / Unmute; aria-pressed while muted),
 *              #record (Record / Stop recording; aria-pressed while recording),
 *              #mask (Mask / Unmask; aria-pressed while masked), #hangup (also gives up
 *              an outbound call still dialing),
 *              #dtmf-panel, #dtmf (buttons with data-digit), #dtmf-sent
 *   Transfer   #transfer-panel, #transfer-type (agent | queue | group | number),
 *              #transfer-target, #transfer (blind), #consult (attended),
 *              #consult-box, #consult-state, #consult-complete, #consult-cancel, #conference
 *   Wrap-up    #wrap-up, #wrap-up-timer, #transfer-note, #take-back, #end-wrap-up
 *   After call #after, #post-call-status (the status to take after this call)
 *   Transcript #transcript-panel (shown while on a call; cleared when the call ends),
 *              #transcript-state (text; data-enabled="true" when this call is transcribed,
 *              "false" when transcription is off or the call's queue is not transcribed),
 *              #transcript-box holding the lines
 *              .line[data-leg="agent|customer"][data-stability="partial|final"] (each
 *              .who + .text, in spoken order; a final that said one of the queue's alert
 *              phrases has .alert[data-alert] and its phrases in .tag) and pause markers
 *              .paused[data-leg][data-reason="hold|mask|not_connected"]
 *   Call log   #call-log (one <li> per journey step, data-event = its name), #call-log-id
 *   Audio      #remote-audio (<audio autoplay> playing the current call's remote stream)
 *   CRM        #cti-state (flag; data-state = the shim's status: standalone | connecting |
 *              connected | no-host | refused | salesforce; data-connected="true" when a CRM
 *              page answers), #offer-crm (the caller's CRM record, from the screen pop)
 *   Call data  #cti-form (shown while this agent owns the connected call and during its
 *              wrap-up; data-call-id), #cti-disposition (select; "" = none), #cti-tags
 *              (checkboxes input[data-tag]), #cti-notes, #cti-who (Name: contact/lead id),
 *              #cti-what (Related To id), #cti-saved (data-state idle | dirty | saving |
 *              saved | error; text of the last save); #cti-logged (data-state logged |
 *              error | skipped, data-call-id, data-record-id: the CRM log of the last call)
 *
 * For tests: window.switchyard = {pc, remoteStream, callId} always reflects the current call
 * (pc and remoteStream are null when this page has no audio for it).
 *
 * CRM work goes only through Open CTI (`sforce.opencti`: /cti/opencti-shim.js, or Salesforce's
 * own library when the panel runs in Salesforce):
 *   - an offer (not a consult) runs searchAndScreenPop(caller's number, INBOUND): the CRM
 *     pops the match; exactly one Contact or Lead becomes the call's Name (who) once the
 *     call is this agent's (accepted), unless the call already has one;
 *   - click-to-dial is enabled while signed in; a click dials out (POST /calls/outbound,
 *     the agent's outbound queue) when the agent has no call and is not in wrap-up, and the
 *     clicked record becomes Name (Contact/Lead) or Related To (anything else) as soon as the
 *     call's data can be edited (connected, or its wrap-up);
 *   - the call data form loads GET /calls/{id}/cti and saves the whole object with PUT
 *     (debounced: 300 ms after a choice, 800 ms after typing, at once when a field loses
 *     focus; and before hang-up, transfer, consult completion and the end of wrap-up);
 *   - saveLog runs once per answered call, when this agent is done with it: after its
 *     wrap-up ends (from here, after the last save; or by the limit or a supervisor), or at
 *     its end when there is no wrap-up. A Task {entityApiName: 'Task', CallObject, CallType,
 *     CallDisposition, CallDurationInSeconds, Subject, Description (notes, then "Tags: …"),
 *     Status: 'Completed', WhoId, WhatId, ActivityDate}, as the server's Salesforce
 *     connector writes it. A call handed to a colleague is theirs to log.
 */
'use strict';

(() => {
  const API = '/api/v1';
  const SESSION_KEY = 'switchyard.agent.session';
  const DEFAULT_OFFER_TIMEOUT_S = 18;
  const AUDIO = { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } };
  /** Statuses an agent may choose: replaced at login by GET /statuses (the configuration's). */
  let CHOOSABLE = [
    ['ready', 'Ready'],
    ['busy', 'Not ready'],
    ['dnd', 'Do not disturb'],
    ['break', 'Break'],
    ['training', 'Training'],
    ['pto', 'PTO'],
    ['offline', 'Offline'],
  ];
  const SYSTEM = {
    offered: 'Ringing',
    dialing: 'Dialing',
    in_service: 'On a call',
    after_service: 'Wrap-up',
  };

  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  const state = {
    session: null, // {token, agentId, username}
    agent: null, // GET /agents/{id}
    call: null, // the call on the panel: ringing, current, or the last one
    queues: new Map(), // id -> queue view (name, colour…)
    agents: [], // colleagues, for transfer targets
    skew: 0, // server clock minus ours, when it matters (ms)
    ws: null,
    wsRetry: 0,
    wsTimer: null,
    media: new Map(), // call id -> {callId, pc, local, remoteStream, closed}
    mediaTried: new Set(), // call ids this page opened (or tried to open) audio for
    busy: new Set(), // controls with a request in flight
    dtmfChain: Promise.resolve(),
    dtmfSent: '',
    dtmfCall: null,
    bgError: false,
    ticker: null,
    poller: null,
    transcription: null, // GET /transcription
    transcripts: new Map(), // call id -> live transcript of a call of this agent
    ended: new Set(), // calls that ended: late transcript events are not shown
    transcriptTimer: null,
  };

  window.switchyard = {
    get pc() {
      const m = currentMedia();
      return m ? m.pc : null;
    },
    get remoteStream() {
      const m = currentMedia();
      return m ? m.remoteStream : null;
    },
    get callId() {
      return state.call ? state.call.id : null;
    },
  };

  // ---------------------------------------------------------------- helpers

  const me = () => (state.session ? state.session.agentId : null);
  const now = () => Date.now() + state.skew;
  const isFinal = (call) => call && (call.state === 'ended' || call.state === 'failed');

  function fmtDuration(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
  }

  function fmtClock(serverMs) {
    return new Date(serverMs - state.skew).toLocaleTimeString([], { hour12: false });
  }

  function queueName(id) {
    const q = state.queues.get(id);
    return q ? q.name || id : id;
  }

  function fmtTarget(t) {
    if (!t) return '?';
    if (t.type === 'number') return t.number;
    return `${t.type} ${t.id}`;
  }

  function fmtParty(p) {
    if (!p) return 'someone';
    if (p.party === 'agent') return `agent ${p.agent}`;
    return p.party;
  }

  /** Notes the server's clock from a response; only a skew well beyond the Date header's
   * one-second resolution is corrected. */
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
      res = await fetch(API + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new Error(`cannot reach the server (${method} ${path}): ${e.message}`);
    }
    noteServerTime(res);
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = null;
      }
    }
    if (!res.ok) {
      const msg = (data && data.error && data.error.message) || `${method} ${path}: HTTP ${res.status}`;
      const err = new Error(msg);
      err.status = res.status;
      err.code = data && data.error ? data.error.code : undefined;
      if (res.status === 401 && state.session) {
        logout('Your session has ended: please log in again.');
      }
      throw err;
    }
    return data;
  }

  function showError(e, background = false) {
    const msg = e && e.message ? e.message : String(e);
    console.error('switchyard:', e);
    $('error-text').textContent = msg;
    $('error').hidden = false;
    state.bgError = background;
  }

  function clearError() {
    $('error').hidden = true;
    $('error-text').textContent = '';
    state.bgError = false;
  }

  /** Wraps a user action: clears the last error, marks the control busy, shows any error. */
  function action(key, fn) {
    return async (ev) => {
      if (state.busy.has(key)) return;
      clearError();
      state.busy.add(key);
      try {
        // fn reads its inputs before its first await; only then does the view redraw.
        const done = fn(ev);
        render();
        await done;
      } catch (e) {
        showError(e);
      } finally {
        state.busy.delete(key);
        render();
      }
    };
  }

  // ---------------------------------------------------------------- live transcript
  // The transcript model and renderer live in transcript-view.js (loaded before this script
  // by agent.html).
  const {
    create: newTranscript,
    apply: applyTranscript,
    lines: transcriptLines,
    render: renderTranscript,
  } = window.TranscriptView;

  function speaker(s) {
    if (s.leg === 'customer') return 'Customer';
    if (!s.agent || s.agent === me()) return 'You';
    const a = state.agents.find((x) => x.id === s.agent);
    return a ? a.name || a.id : s.agent;
  }

  /** The current call's transcript, or why there is none. */
  function renderTranscriptPanel() {
    const call = state.call;
    const onCall = !!call && !$('call').hidden;
    if (call && isFinal(call)) {
      state.ended.add(call.id);
      state.transcripts.delete(call.id);
    }
    $('transcript-panel').hidden = !onCall;
    const t = onCall ? state.transcripts.get(call.id) : null;
    const tx = state.transcription;
    const q = tx && onCall ? (tx.queues || []).find((x) => x.queue === call.queue) : null;
    const mode = q ? q.mode : 'off';
    let text = '';
    let enabled = '';
    if (tx && !tx.enabled) {
      text = 'Live transcription is off: no whisper model configured.';
      enabled = 'false';
    } else if (tx && onCall && mode === 'off') {
      text = `${queueName(call.queue)} calls are not transcribed.`;
      enabled = 'false';
    } else if (tx && onCall) {
      enabled = 'true';
      if (mode === 'agent') text = 'Only your side is transcribed.';
      else if (mode === 'customer') text = "Only the customer's side is transcribed.";
      if (!transcriptLines(t).length) text = `${text} Waiting for words…`.trim();
    }
    const st = $('transcript-state');
    st.textContent = text;
    st.hidden = !text;
    st.dataset.enabled = enabled;
    const box = $('transcript-box');
    if (box.dataset.callId !== (onCall ? call.id : '')) {
      box.querySelector('.lines').textContent = '';
      box.dataset.callId = onCall ? call.id : '';
    }
    renderTranscript(box, t, speaker);
  }

  // ---------------------------------------------------------------- session

  function loadSession() {
    try {
      const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
      if (s && s.token && s.agentId) return s;
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
      if (!s.agent_id) {
        throw new Error(`${username} signs in as ${s.role} without an agent: this panel is for agents`);
      }
      state.session = { token: s.token, agentId: s.agent_id, username };
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
    clearInterval(state.queuePoller);
    for (const id of [...state.media.keys()]) closeMedia(id);
    state.agent = null;
    state.call = null;
    state.transcripts.clear();
    state.transcription = null;
    ctiReset();
    render();
    if (message) showError(new Error(message));
  }

  async function start() {
    render();
    ctiCall('enableClickToDial');
    await Promise.all([loadQueues(), loadAgents(), loadTranscription()]);
    await scheduleRefresh();
    connectEvents();
    clearInterval(state.ticker);
    state.ticker = setInterval(tick, 500);
    // Events say when to look; this catches anything a dropped stream missed.
    clearInterval(state.poller);
    state.poller = setInterval(() => scheduleRefresh(), 10000);
    // The queues' counters change with other agents' calls too: polled.
    renderQueueStats();
    clearInterval(state.queuePoller);
    state.queuePoller = setInterval(() => loadQueueStats(), 5000);
  }

  // ---------------------------------------------------------------- queue counters (A6)

  async function loadQueueStats() {
    if (!state.session) return;
    try {
      const r = await api('GET', '/queues');
      state.queues = new Map((r.queues || []).map((q) => [q.id, q]));
      renderQueueStats();
    } catch (_) {
      // In the background: the next round tries again.
    }
  }

  function renderQueueStats() {
    const box = $('queue-stats');
    const mine = (state.agent && state.agent.queues) || [];
    const rows = mine.map((id) => state.queues.get(id)).filter(Boolean);
    box.hidden = rows.length === 0;
    box.replaceChildren(
      ...rows.map((q) => {
        const row = document.createElement('div');
        row.className = 'bar queue-row';
        row.dataset.queue = q.id;
        const name = document.createElement('span');
        name.className = 'badge';
        colourise(name, q.id);
        name.textContent = q.name;
        const text = document.createElement('span');
        text.className = 'grow';
        const queued = q.waiting + (q.offering || 0);
        const longest = queued ? ` (longest ${fmtDuration(q.longest_wait_secs * 1000)})` : '';
        const ringing = q.offering ? ` · ${q.offering} ringing` : '';
        text.textContent = `${q.waiting} waiting${ringing}${longest} · ${q.agents_ready} ready · ${q.agents_on_call} on a call`;
        if (queued) text.classList.add('busy-queue');
        row.append(name, text);
        return row;
      })
    );
  }

  async function loadQueues() {
    try {
      const r = await api('GET', '/queues');
      state.queues = new Map((r.queues || []).map((q) => [q.id, q]));
      const s = await api('GET', '/statuses');
      if (Array.isArray(s.statuses) && s.statuses.length) {
        CHOOSABLE = s.statuses.map((x) => [x.id, x.label]);
      }
    } catch (e) {
      showError(e, true);
    }
  }

  async function loadTranscription() {
    try {
      state.transcription = await api('GET', '/transcription');
    } catch (e) {
      showError(new Error(`live transcription status: ${e.message}`), true);
    }
  }

  async function loadAgents() {
    try {
      const r = await api('GET', '/agents');
      state.agents = r.agents || [];
    } catch (e) {
      showError(e, true);
    }
  }

  // ---------------------------------------------------------------- refresh

  let refreshing = null;
  let refreshAgain = false;

  /** Reloads the agent and its call; concurrent requests coalesce into one more round. */
  function scheduleRefresh() {
    if (refreshing) {
      refreshAgain = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        refreshAgain = false;
        if (!state.session) break;
        try {
          await refreshOnce();
          if (state.bgError) clearError();
        } catch (e) {
          if (state.session) showError(e, true);
        }
      } while (refreshAgain);
      refreshing = null;
      render();
    })();
    return refreshing;
  }

  async function refreshOnce() {
    const agent = await api('GET', `/agents/${enc(me())}`);
    state.agent = agent;
    const id = agent.call_id;
    if (id) {
      state.call = await api('GET', `/calls/${enc(id)}`);
    } else if (state.call && !isFinal(state.call)) {
      // The last call: see whether it ended, was answered elsewhere, came back…
      try {
        state.call = await api('GET', `/calls/${enc(state.call.id)}`);
      } catch (e) {
        if (e.status !== 403 && e.status !== 404) throw e;
      }
    }
    // Calls this page carries audio for, other than the one shown (a held call).
    for (const cid of [...state.media.keys()]) {
      if (state.call && cid === state.call.id) continue;
      try {
        reconcileMedia(await api('GET', `/calls/${enc(cid)}`));
      } catch (e) {
        if (e.status === 403 || e.status === 404) closeMedia(cid);
        else throw e;
      }
    }
    if (state.call) reconcileMedia(state.call);
    autoStartMedia();
  }

  function setCall(call) {
    if (!call) return;
    if (!state.call || state.call.id === call.id || call.agent === me()) state.call = call;
    reconcileMedia(call);
    render();
  }

  function setAgent(view) {
    if (view && view.id === me()) state.agent = view;
    render();
  }

  // ---------------------------------------------------------------- events

  function connectEvents() {
    if (!state.session || state.ws) return;
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    // After a drop, resume from the last event seen: the server replays what was missed.
    const since = state.lastSeq != null ? `&since=${state.lastSeq}` : '';
    const url = `${proto}://${location.host}${API}/events?token=${enc(state.session.token)}${since}`;
    const ws = new WebSocket(url);
    state.ws = ws;
    ws.onopen = () => {
      state.wsRetry = 0;
      setLink(true);
      scheduleRefresh();
      loadTranscription().then(render); // a restarted server may have another setting
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
      state.wsTimer = setTimeout(() => {
        connectEvents();
        scheduleRefresh();
      }, delay);
    };
  }

  function setLink(live) {
    const el = $('link');
    el.textContent = live ? 'live' : 'offline';
    el.classList.toggle('on', !live);
    el.title = live ? 'Live events' : 'Event stream disconnected: reconnecting';
  }

  const EVENT_FIELDS_NOT_IN_ENTRY = new Set(['seq', 'type', 'call_id', 'agents']);

  function onEvent(e) {
    if (!e || !e.type) return;
    if (e.type === 'stream.hello') return;
    if (e.type === 'stream.lagged' || e.type === 'stream.reset') {
      scheduleRefresh();
      return;
    }
    if (e.type === 'agent.status') {
      if (state.agent && e.agent === me()) {
        state.agent = { ...state.agent, status: e.to, since: e.at };
        render();
      }
      scheduleRefresh();
      return;
    }
    if (e.type.startsWith('transcript.')) {
      if (!e.call_id || state.ended.has(e.call_id)) return;
      let t = state.transcripts.get(e.call_id);
      if (!t) state.transcripts.set(e.call_id, (t = newTranscript()));
      if (applyTranscript(t, e) && !state.transcriptTimer) {
        state.transcriptTimer = setTimeout(() => {
          state.transcriptTimer = null;
          renderTranscriptPanel();
        }, 40);
      }
      return;
    }
    if (e.type.startsWith('call.')) {
      if (e.type === 'call.ended' || e.type === 'call.failed') {
        // The transcript is there during the interaction only.
        state.ended.add(e.call_id);
        state.transcripts.delete(e.call_id);
      }
      if (state.call && e.call_id === state.call.id && e.event) {
        addJourneyEntry(state.call, e);
        render();
      }
      const m = state.media.get(e.call_id);
      if (m && (e.type === 'call.ended' || e.type === 'call.failed')) closeMedia(e.call_id);
      if (m && e.type === 'call.transfer_started' && e.by === me()) closeMedia(e.call_id, true);
      scheduleRefresh();
    }
  }

  /** Adds an event's journey step to the call log at once (the next refresh replaces the log
   * with the server's own). */
  function addJourneyEntry(call, e) {
    const entry = {};
    for (const [k, v] of Object.entries(e)) if (!EVENT_FIELDS_NOT_IN_ENTRY.has(k)) entry[k] = v;
    // `queue` and `from` are the call's, except in the steps that name their own.
    if (!['routed_to_queue'].includes(e.event)) delete entry.queue;
    if (!['initiated', 'overflowed', 'consult_completed'].includes(e.event)) delete entry.from;
    const journey = call.journey || (call.journey = []);
    const dup = journey.some((j) => j.at === entry.at && j.event === entry.event);
    if (!dup) journey.push(entry);
  }

  // ---------------------------------------------------------------- media

  let iceServersP = null;

  /** GET /media-config once (no auth); without it, no ICE servers (loopback and LAN work). */
  function iceServers() {
    if (!iceServersP) {
      iceServersP = fetch(`${API}/media-config`)
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
        .then((j) =>
          (Array.isArray(j.ice_servers) ? j.ice_servers : []).map((s) => {
            const out = { urls: s.urls };
            if (s.username != null) out.username = s.username;
            if (s.credential != null) out.credential = s.credential;
            return out;
          })
        )
        .catch((e) => {
          console.warn('switchyard: no media configuration, using no ICE servers:', e);
          iceServersP = null;
          return [];
        });
    }
    return iceServersP;
  }

  function iceGathered(pc, ms = 5000) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      };
      const check = () => {
        if (pc.iceGatheringState === 'complete') done();
      };
      const timer = setTimeout(done, ms);
      pc.addEventListener('icegatheringstatechange', check);
    });
  }

  function currentMedia() {
    return state.call ? state.media.get(state.call.id) || null : null;
  }

  /** Opens the agent's audio leg for a call it now owns: microphone, offer with every ICE
   * candidate (no trickle), the server's answer. */
  async function startMedia(callId) {
    if (state.media.has(callId) || state.mediaTried.has(callId)) return;
    state.mediaTried.add(callId);
    const m = { callId, pc: null, local: null, remoteStream: new MediaStream(), closed: false };
    state.media.set(callId, m);
    render();
    try {
      const servers = await iceServers();
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw new Error('this browser gives no microphone access here (a secure context is needed)');
      }
      m.local = await navigator.mediaDevices.getUserMedia(AUDIO);
      if (m.closed) return stopTracks(m);
      const pc = new RTCPeerConnection({ iceServers: servers });
      m.pc = pc;
      pc.ontrack = (ev) => {
        if (!m.remoteStream.getTrackById(ev.track.id)) m.remoteStream.addTrack(ev.track);
        attachAudio();
      };
      pc.onconnectionstatechange = () => {
        render();
        if (pc.connectionState === 'failed' && !m.closed) {
          showError(new Error('the audio connection failed'));
        }
      };
      for (const t of m.local.getAudioTracks()) pc.addTrack(t, m.local);
      applyMute();
      await pc.setLocalDescription(await pc.createOffer());
      await iceGathered(pc);
      if (m.closed) return;
      const local = pc.localDescription;
      const answer = await api('POST', `/calls/${enc(callId)}/media`, {
        party: 'agent',
        sdp: { type: local.type, sdp: local.sdp },
      });
      if (m.closed) return;
      await pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
      attachAudio();
    } catch (e) {
      const wasClosed = m.closed;
      closeMedia(callId);
      if (!wasClosed) showError(new Error(`audio: ${e.message}`));
    } finally {
      render();
    }
  }

  function stopTracks(m) {
    if (m.local) for (const t of m.local.getTracks()) t.stop();
  }

  /** Closes a call's audio. `mayReturn`: the call may come back (a transfer taken back). */
  function closeMedia(callId, mayReturn = false) {
    const m = state.media.get(callId);
    if (!m) return;
    m.closed = true;
    state.media.delete(callId);
    if (mayReturn) state.mediaTried.delete(callId);
    if (m.pc) m.pc.close();
    stopTracks(m);
    const audio = $('remote-audio');
    if (audio.srcObject === m.remoteStream) audio.srcObject = null;
    render();
  }

  /** Plays the current call's remote stream. */
  function attachAudio() {
    const m = currentMedia();
    const audio = $('remote-audio');
    const stream = m ? m.remoteStream : null;
    if (audio.srcObject !== stream) audio.srcObject = stream;
    if (stream && audio.paused) {
      audio.play().catch((e) => {
        // A newer source replaced this one before it started: nothing is lost.
        if (e.name !== 'AbortError') showError(new Error(`cannot play the call's audio: ${e.message}`));
      });
    }
  }

  /** The microphone follows the call's muted flag too (the server mutes the bridge). */
  function applyMute() {
    for (const m of state.media.values()) {
      if (!m.local) continue;
      const call = state.call && state.call.id === m.callId ? state.call : null;
      const muted = !!(call && call.muted);
      for (const t of m.local.getAudioTracks()) t.enabled = !muted;
    }
  }

  /** Whether this agent talks on the call: its owner, the colleague it consults once that
   * colleague answered, or the third party of its conference. */
  function talksOn(call) {
    const mine = me();
    return (
      call.agent === mine ||
      !!(call.consult && call.consult.agent === mine && call.consult.answered) ||
      !!(call.conference && call.conference.third && call.conference.third.id === mine)
    );
  }

  /** Closes the audio of a call that ended or left this agent. */
  function reconcileMedia(call) {
    if (!call || !state.media.has(call.id)) return;
    if (isFinal(call)) closeMedia(call.id);
    else if (call.transfer && call.transfer.from === me()) closeMedia(call.id, true);
    else if (!talksOn(call)) closeMedia(call.id, true);
    applyMute();
  }

  /** A connected call this agent talks on gets audio on this page: accept opens it at once;
   * this covers a call taken, taken back, completed to this agent, dialed out, a consult or
   * conference it was brought into, or one already up when the panel (re)loaded — the server
   * replaces the agent's earlier leg with this one. Tried once per call; #reconnect-audio
   * tries again. */
  function autoStartMedia() {
    const call = state.call;
    if (!call || !state.agent) return;
    if (call.state !== 'connected' || !talksOn(call)) return;
    if (state.agent.call_id !== call.id) return;
    if (state.mediaTried.has(call.id)) return;
    startMedia(call.id);
  }

  // ---------------------------------------------------------------- actions

  function callPath(verb) {
    if (!state.call) throw new Error('no call');
    return `/calls/${enc(state.call.id)}/${verb}`;
  }

  async function callAction(verb, body) {
    setCall(await api('POST', callPath(verb), body));
  }

  async function accept() {
    const call = state.call;
    if (!call) return;
    const answered = await api('POST', `/calls/${enc(call.id)}/accept`);
    state.call = answered;
    render();
    scheduleRefresh();
    if (answered.state === 'connected' && talksOn(answered)) await startMedia(answered.id);
  }

  async function decline() {
    if (!state.call) return;
    setCall(await api('POST', callPath('decline')));
    scheduleRefresh();
  }

  async function hangup() {
    await ctiFlush();
    setCall(await api('POST', callPath('hangup')));
    scheduleRefresh();
  }

  function target() {
    const type = $('transfer-type').value;
    const value = $('transfer-target').value.trim();
    if (!value) throw new Error(`enter the ${type === 'number' ? 'number' : `${type} id`} to transfer to`);
    return type === 'number' ? { type, number: value } : { type, id: value };
  }

  async function transfer() {
    const t = target();
    await ctiFlush();
    setCall(await api('POST', callPath('transfer'), { target: t }));
    scheduleRefresh();
  }

  async function consult() {
    const t = target();
    setCall(await api('POST', callPath('consult'), { target: t }));
  }

  async function setStatus() {
    const status = $('status').value;
    try {
      setAgent(await api('PUT', `/agents/${enc(me())}/status`, { status }));
    } finally {
      scheduleRefresh();
    }
  }

  async function setPostCallStatus() {
    const post = $('post-call-status').value;
    try {
      setAgent(await api('PUT', `/agents/${enc(me())}/status`, { post_call_status: post }));
    } finally {
      scheduleRefresh();
    }
  }

  async function endWrapUp() {
    await ctiFlush();
    setAgent(await api('POST', `/agents/${enc(me())}/wrap-up/end`));
    scheduleRefresh();
  }

  async function takeBack() {
    setCall(await api('POST', callPath('take-back')));
    scheduleRefresh();
  }

  /** DTMF digits go one request at a time, in the order pressed. */
  function sendDigit(d) {
    if (!state.call || !ownsCall()) return;
    const id = state.call.id;
    clearError();
    state.dtmfChain = state.dtmfChain.then(async () => {
      try {
        const call = await api('POST', `/calls/${enc(id)}/dtmf`, { digits: d });
        if (state.dtmfCall !== id) {
          state.dtmfCall = id;
          state.dtmfSent = '';
        }
        state.dtmfSent += d;
        setCall(call);
      } catch (e) {
        showError(e);
      }
    });
  }

  // ---------------------------------------------------------------- view

  function ownsCall() {
    const c = state.call;
    return !!(c && c.state === 'connected' && c.agent === me());
  }

  function statusLabel(s) {
    const known = CHOOSABLE.find(([v]) => v === s);
    if (known) return known[1];
    if (SYSTEM[s]) return SYSTEM[s];
    return s ? s.charAt(0).toUpperCase() + s.slice(1).replace(/_/g, ' ') : '';
  }

  /** Rebuilds a select's options only when they change (keeps an open select usable). */
  function setOptions(select, options, value) {
    const key = JSON.stringify(options);
    if (select.dataset.key !== key) {
      select.textContent = '';
      for (const [v, label, disabled] of options) {
        const o = document.createElement('option');
        o.value = v;
        o.textContent = label;
        o.disabled = !!disabled;
        select.appendChild(o);
      }
      select.dataset.key = key;
    }
    if (select.value !== value) select.value = value;
  }

  function setToggle(id, pressed, label, enabled, title) {
    const b = $(id);
    b.textContent = label;
    b.setAttribute('aria-pressed', pressed ? 'true' : 'false');
    b.disabled = !enabled || state.busy.has(id);
    b.title = title || '';
  }

  function colourise(el, queueId) {
    const q = state.queues.get(queueId);
    if (q && q.colour) el.style.setProperty('--queue-colour', q.colour);
    else el.style.removeProperty('--queue-colour');
  }

  function describe(en) {
    switch (en.event) {
      case 'initiated':
        return `Call from ${en.from}`;
      case 'routed_to_queue':
        return `Queued in ${queueName(en.queue)}`;
      case 'offered_to':
        return `Offered to ${en.agent}`;
      case 'agent_busy':
        return `${en.agent} was busy`;
      case 'declined':
        return `Declined by ${en.agent}`;
      case 'timed_out':
        return `Offer to ${en.agent} rang out`;
      case 'offer_withdrawn':
        return `Offer to ${en.agent} withdrawn`;
      case 'answered_by':
        return `Answered by ${en.agent}`;
      case 'taken_by':
        return `Taken by ${en.agent}`;
      case 'overflowed':
        return `Overflowed from ${queueName(en.from)} to ${queueName(en.to)}`;
      case 'recovered':
        return 'Recovered after a failure';
      case 'dialed':
        return `${en.by} dialed ${en.number}`;
      case 'customer_answered':
        return 'Customer answered';
      case 'callback_announced':
        return `Callback announced: ${en.message}`;
      case 'missed_call_flow':
        return `Missed-call flow: ${en.reason}`;
      case 'held':
        return 'Customer on hold';
      case 'resumed':
        return 'Customer off hold';
      case 'muted':
        return 'Agent muted';
      case 'unmuted':
        return 'Agent unmuted';
      case 'dtmf':
        return `DTMF ${en.digits}`;
      case 'recording':
        return { on: 'Recording on', masked: 'Recording masked', off: 'Recording off' }[en.state] || `Recording ${en.state}`;
      case 'transfer_started':
        return `${en.by} transferred to ${fmtTarget(en.target)}`;
      case 'transfer_failed':
        return `Transfer failed: ${en.reason}`;
      case 'taken_back':
        return `Taken back by ${en.by}`;
      case 'transferred_out':
        return `Handed out to ${en.number}`;
      case 'consult_started':
        return `${en.by} consults ${fmtTarget(en.target)}`;
      case 'consult_offered':
        return `Consult rings ${en.agent}`;
      case 'consult_answered':
        return `Consult answered${en.agent ? ` by ${en.agent}` : ''}`;
      case 'consult_ended':
        return `Consult ended (${String(en.reason).replace(/_/g, ' ')})`;
      case 'consult_completed':
        return `Transferred from ${en.from} to ${en.to}`;
      case 'conference_started':
        return 'Conference started';
      case 'party_left':
        return `${fmtParty(en.party)} left the conference`;
      case 'ended':
        return `Ended by ${fmtParty(en.by)} (${String(en.result).replace(/_/g, ' ')})`;
      case 'failed':
        return `Failed: ${en.reason}`;
      case 'data_changed':
        return `${en.by} changed the call's ${(en.fields || []).join(', ')}`;
      default: {
        const rest = { ...en };
        delete rest.at;
        delete rest.event;
        return `${en.event} ${JSON.stringify(rest)}`;
      }
    }
  }

  function renderLog() {
    const list = $('call-log');
    const call = state.call;
    const journey = call ? call.journey || [] : [];
    const key = call ? `${call.id}:${journey.length}:${journey.map((j) => j.at + j.event).join(',')}` : '';
    if (list.dataset.key === key) return;
    list.dataset.key = key;
    list.textContent = '';
    $('call-log-id').textContent = call ? call.id : '';
    if (!call) {
      const li = document.createElement('li');
      li.className = 'muted';
      li.textContent = 'No call yet.';
      list.appendChild(li);
      return;
    }
    for (const en of journey) {
      const li = document.createElement('li');
      li.dataset.event = en.event;
      const t = document.createElement('time');
      t.dateTime = new Date(en.at).toISOString();
      t.textContent = fmtClock(en.at);
      const s = document.createElement('span');
      s.textContent = describe(en);
      li.append(t, s);
      list.appendChild(li);
    }
    list.scrollTop = list.scrollHeight;
  }

  function render() {
    const logged = !!state.session;
    $('login-form').hidden = logged;
    $('workspace').hidden = !logged || !state.agent;
    $('logout').hidden = !logged;
    $('who').textContent = logged ? (state.agent && state.agent.name) || state.session.username : '';
    renderCtiState();
    if (!logged || !state.agent) return;

    const agent = state.agent;
    const call = state.call;
    const mine = me();

    // Status.
    const options = CHOOSABLE.map(([v, l]) => [v, l]);
    if (!CHOOSABLE.some(([v]) => v === agent.status)) {
      options.unshift([agent.status, statusLabel(agent.status), !!SYSTEM[agent.status]]);
    }
    const status = $('status');
    setOptions(status, options, agent.status);
    // While a call rings the agent may still step away: the chosen status stops the ringing
    // and the call moves on to someone else at once.
    status.disabled =
      state.busy.has('status') || ['in_service', 'dialing'].includes(agent.status) || !!agent.locked;
    status.title = agent.locked
      ? `Locked in ${statusLabel(agent.locked)} by a supervisor`
      : agent.status === 'offered'
        ? 'Choosing a status stops the ringing; the call goes to someone else'
        : '';
    const held = agent.held_calls || [];
    $('held-calls').hidden = held.length === 0;
    $('held-calls').textContent = held.length ? `On hold: ${held.join(', ')}` : '';

    // Offer banner.
    const ringing = agent.status === 'offered' && call && call.id === agent.call_id;
    $('offer').hidden = !ringing;
    if (ringing) {
      $('offer').dataset.callId = call.id;
      colourise($('offer'), call.queue);
      colourise($('offer-queue'), call.queue);
      $('offer-queue').textContent = queueName(call.queue);
      let kind = call.kind === 'inbound' ? 'Incoming call' : statusLabel(call.kind);
      if (call.consult && call.consult.agent === mine) kind = `Consult from ${call.consult.by}`;
      else if (call.transfer) kind = `Transfer from ${call.transfer.from}`;
      $('offer-kind').textContent = kind;
      $('offer-from').textContent = call.from;
      const match = crm.matches.get(call.id);
      $('offer-crm').hidden = !match;
      $('offer-crm').textContent = match || '';
      $('accept').disabled = state.busy.has('accept') || state.busy.has('decline');
      $('decline').disabled = state.busy.has('accept') || state.busy.has('decline');
    }

    // The call.
    const onCall = call && call.id === agent.call_id && ['in_service', 'dialing'].includes(agent.status);
    $('call').hidden = !onCall;
    if (onCall) {
      const owner = ownsCall();
      const consultedMe = !!(call.consult && call.consult.agent === mine && call.agent !== mine);
      const thirdMe = !!(call.conference && call.conference.third && call.conference.third.id === mine);
      $('call').dataset.callId = call.id;
      colourise($('call-queue'), call.queue);
      $('call-queue').textContent = queueName(call.queue);
      $('call-from').textContent = call.from;
      $('flag-held').classList.toggle('on', !!call.held);
      $('flag-held').textContent = call.held ? 'on hold' : 'not held';
      $('flag-muted').classList.toggle('on', !!call.muted);
      $('flag-muted').textContent = call.muted ? 'muted' : 'mic on';
      $('flag-recording').classList.toggle('rec', call.recording !== 'off');
      $('flag-recording').textContent =
        { on: '● recording', masked: '● masked', off: 'not recording' }[call.recording] || call.recording;

      const m = state.media.get(call.id);
      let media = 'audio: none on this page';
      if (m) media = `audio: ${m.pc ? m.pc.connectionState : 'starting'}`;
      $('media-state').textContent = media;

      const reconnect = $('reconnect-audio');
      reconnect.hidden = !(owner && !m);
      reconnect.disabled = state.busy.has('reconnect-audio');

      let note = '';
      if (consultedMe) note = `Consult with ${call.consult.by}: they complete, cancel or make it a conference.`;
      if (call.conference) note = 'Conference: any party may leave; the others stay connected.';
      if (call.state === 'dialing') note = 'Dialing the customer…';
      $('call-note').hidden = !note;
      $('call-note').textContent = note;

      const inConsult = !!call.consult;
      const inConf = !!call.conference;
      setToggle(
        'hold',
        call.held,
        call.held ? 'Resume' : 'Hold',
        owner && !inConf && !(call.held && inConsult),
        inConf ? 'A conference cannot be held' : inConsult && call.held ? 'Complete, cancel or conference the consult first' : ''
      );
      setToggle('mute', call.muted, call.muted ? 'Unmute' : 'Mute', owner);
      setToggle(
        'record',
        call.recording !== 'off',
        call.recording === 'off' ? 'Record' : 'Stop recording',
        owner
      );
      setToggle(
        'mask',
        call.recording === 'masked',
        call.recording === 'masked' ? 'Unmask' : 'Mask',
        owner && call.recording !== 'off' && !inConf,
        call.recording === 'off' ? 'Start recording first' : inConf ? 'A conference cannot be masked' : ''
      );
      const $hang = $('hangup');
      // The agent may also give up an outbound call still dialing.
      const dialingMine = call.state === 'dialing' && call.agent === mine;
      $hang.disabled =
        !(owner || consultedMe || thirdMe || dialingMine) || (owner && call.held && !inConf) || state.busy.has('hangup');
      $hang.title = owner && call.held ? 'Resume the call before hanging up' : '';

      const dtmfOk = owner && !call.held && !inConf;
      for (const b of $('dtmf').querySelectorAll('button')) b.disabled = !dtmfOk;
      $('dtmf-sent').textContent = state.dtmfCall === call.id ? state.dtmfSent : '';

      const canTransfer = owner && !inConsult && !inConf;
      $('transfer').disabled = !canTransfer || state.busy.has('transfer');
      $('consult').disabled = !canTransfer || state.busy.has('consult');
      $('transfer-target').disabled = !canTransfer;
      $('transfer-type').disabled = !canTransfer;

      const myConsult = inConsult && call.consult.by === mine;
      $('consult-box').hidden = !myConsult;
      if (myConsult) {
        const c = call.consult;
        const who = c.agent || fmtTarget(c.target);
        $('consult-state').textContent = `Consulting ${who}: ${c.answered ? 'connected' : 'ringing'}. The customer is on hold.`;
        $('consult-complete').disabled = !c.answered || state.busy.has('consult-complete');
        $('conference').disabled = !c.answered || state.busy.has('conference');
        $('consult-cancel').disabled = state.busy.has('consult-cancel');
        $('transfer-panel').open = true;
      }
    }

    renderTranscriptPanel();

    // Wrap-up.
    const wrapping = agent.status === 'after_service';
    $('wrap-up').hidden = !wrapping;
    if (wrapping) {
      const t = call && call.transfer && call.transfer.from === mine && !isFinal(call) ? call.transfer : null;
      $('take-back').hidden = !t;
      $('take-back').disabled = state.busy.has('take-back');
      $('transfer-note').hidden = !t;
      $('transfer-note').textContent = t ? `Transferred to ${fmtTarget(t.target)}: not answered yet.` : '';
      $('end-wrap-up').disabled = state.busy.has('end-wrap-up');
    }

    // After-call status.
    const after = ['offered', 'in_service', 'dialing', 'after_service'].includes(agent.status);
    $('after').hidden = !after;
    if (after) {
      const post = $('post-call-status');
      const opts = CHOOSABLE.filter(([v]) => v !== 'offline').map(([v, l]) => [v, l]);
      const value = agent.post_call_status || agent.locked || 'ready';
      if (!opts.some(([v]) => v === value)) opts.push([value, statusLabel(value)]);
      setOptions(post, opts, value);
      post.disabled = state.busy.has('post-call-status');
    }

    renderLog();
    renderCti();
    attachAudio();
    tick();
  }

  /** When this agent began talking on the call: its own answer, take-over or take-back
   * (a transferred call's `answered_at` is the first agent's). */
  function talkingSince(call) {
    const mine = me();
    const journey = call.journey || [];
    for (let i = journey.length - 1; i >= 0; i--) {
      const j = journey[i];
      if (
        ((j.event === 'answered_by' || j.event === 'taken_by') && j.agent === mine) ||
        (j.event === 'consult_completed' && j.to === mine) ||
        (j.event === 'taken_back' && j.by === mine) ||
        (j.event === 'consult_answered' && j.agent === mine)
      ) {
        return j.at;
      }
    }
    return call.answered_at;
  }

  /** The running clocks. */
  function tick() {
    const agent = state.agent;
    if (!agent) return;
    const t = now();
    $('status-timer').textContent = fmtDuration(t - agent.since);
    const call = state.call;
    if (!$('offer').hidden && call) {
      const since = call.enqueued_at || call.created_at;
      $('offer-wait').textContent = fmtDuration(t - since);
      let deadline;
      if (call.consult && call.consult.agent === me() && call.consult.ring_until) {
        deadline = call.consult.ring_until;
      } else {
        const q = state.queues.get(call.queue);
        const secs = q && Number.isFinite(q.offer_timeout_secs) ? q.offer_timeout_secs : DEFAULT_OFFER_TIMEOUT_S;
        deadline = agent.since + secs * 1000;
      }
      $('offer-countdown').textContent = String(Math.max(0, Math.ceil((deadline - t) / 1000)));
    }
    if (!$('call').hidden && call) {
      const since = talkingSince(call);
      $('call-timer').textContent = since ? fmtDuration(t - since) : '0:00';
    }
    if (!$('wrap-up').hidden) {
      $('wrap-up-timer').textContent = fmtDuration(t - agent.since);
    }
  }

  // ---------------------------------------------------------------- CRM (Open CTI)

  const CTI_CHOICE_DELAY_MS = 300;
  const CTI_TYPING_DELAY_MS = 800;
  const PERSON_TYPES = ['Contact', 'Lead'];
  const CTI_STATE_TEXT = {
    standalone: 'no CRM',
    connecting: 'CRM…',
    connected: 'CRM',
    'no-host': 'no CRM',
    refused: 'CRM refused',
    salesforce: 'Salesforce',
  };

  const crm = {
    form: {
      callId: null, // the call the form edits
      token: 0, // bumps at each (re)load: late answers for another call are dropped
      loaded: false,
      catalog: null,
      dirty: false, // changed since the last save started
      timer: null,
      chain: Promise.resolve(),
      saved: { state: 'idle', text: '' },
    },
    searched: new Set(), // calls screen-popped
    matches: new Map(), // call id -> "Name (Contact)" of the caller's record
    prefill: new Map(), // call id -> {who?, what?} to apply once the data can be edited
    watch: new Set(), // calls this agent had: logged (saveLog) once it is done with them
    logging: new Set(),
    logged: new Set(),
    checked: new Map(), // call id -> when ctiLog last looked at it
    failures: new Map(), // call id -> saveLog attempts that failed (tried up to 3 times)
  };

  function opencti() {
    return window.sforce && window.sforce.opencti ? window.sforce.opencti : null;
  }

  function ctiStatus() {
    const s = window.SwitchyardOpenCti;
    if (s && s.status) return s.status;
    return opencti() ? 'salesforce' : 'standalone';
  }

  /** Whether CRM work is worth sending (a CRM page may answer). */
  function ctiUsable() {
    const st = ctiStatus();
    return !!opencti() && st !== 'standalone' && st !== 'refused';
  }

  /** Calls an Open CTI method; resolves with its answer {success, returnValue, errors}. */
  function ctiCall(method, args = {}) {
    const o = opencti();
    const fail = (description) => ({
      success: false,
      returnValue: null,
      errors: [{ code: 'GENERIC_ERROR', description }],
    });
    if (!o || typeof o[method] !== 'function') return Promise.resolve(fail(`Open CTI has no ${method}`));
    return new Promise((resolve) => {
      try {
        o[method]({ ...args, callback: resolve });
      } catch (e) {
        resolve(fail(e && e.message ? e.message : String(e)));
      }
    });
  }

  const ctiErrorText = (r) =>
    (r && r.errors && r.errors[0] && `${r.errors[0].code}: ${r.errors[0].description}`) || 'unknown error';

  function ctiReset() {
    const f = crm.form;
    clearTimeout(f.timer);
    f.timer = null;
    f.callId = null;
    f.loaded = false;
    f.dirty = false;
    f.token++;
    f.saved = { state: 'idle', text: '' };
    crm.watch.clear();
    crm.prefill.clear();
    ctiCall('disableClickToDial');
  }

  // --- screen pop on an offer

  async function ctiScreenPop(call) {
    const o = opencti();
    const inbound = (o && o.CALL_TYPE && o.CALL_TYPE.INBOUND) || 'inbound';
    const r = await ctiCall('searchAndScreenPop', { searchParams: call.from, callType: inbound, deferred: false });
    if (!r.success) {
      console.warn('switchyard: screen pop:', ctiErrorText(r));
      return;
    }
    const found = Object.entries(r.returnValue || {}).filter(
      ([k, v]) => k !== 'SCREEN_POP_DATA' && v && typeof v === 'object'
    );
    if (found.length === 1) {
      const [id, rec] = found[0];
      const type = rec.RecordType || rec.objectType || '';
      crm.matches.set(call.id, `${rec.Name || id}${type ? ` (${type})` : ''}`);
      if (PERSON_TYPES.includes(type)) {
        crm.prefill.set(call.id, { who: id });
        ctiApplyPrefill();
      }
    } else if (found.length > 1) {
      crm.matches.set(call.id, `${found.length} CRM matches`);
    }
    render();
  }

  // --- click-to-dial

  async function dialOut(number) {
    try {
      return await api('POST', '/calls/outbound', { number });
    } catch (e) {
      if (e.code !== 'queue_required') throw e;
      // Several outbound queues: the first of this agent's queues that dials out.
      for (const queue of (state.agent && state.agent.queues) || []) {
        try {
          return await api('POST', '/calls/outbound', { number, queue });
        } catch (e2) {
          if (e2.code !== 'not_outbound_queue') throw e2;
        }
      }
      throw e;
    }
  }

  async function clickToDial(payload) {
    const p = payload && typeof payload === 'object' ? payload : {};
    const number = String(p.number || '').trim();
    if (!number) throw new Error('click-to-dial: the CRM sent no number');
    if (!state.session || !state.agent) throw new Error(`click-to-dial ${number}: log in first`);
    const a = state.agent;
    if (a.call_id || ['offered', 'in_service', 'dialing', 'after_service'].includes(a.status)) {
      throw new Error(`click-to-dial ${number}: not while ${statusLabel(a.status).toLowerCase()}; finish the current call first`);
    }
    const call = await dialOut(number);
    const fill = {};
    if (p.recordId) {
      if (PERSON_TYPES.includes(p.objectType)) fill.who = String(p.recordId);
      else {
        fill.what = String(p.recordId);
        if (p.contactId) fill.who = String(p.contactId);
      }
    }
    if (fill.who || fill.what) crm.prefill.set(call.id, fill);
    if (p.recordName) crm.matches.set(call.id, `${p.recordName}${p.objectType ? ` (${p.objectType})` : ''}`);
    state.call = call;
    crm.watch.add(call.id);
    render();
    scheduleRefresh();
  }

  // --- the call data form

  /** The call whose data this agent may edit now: its own connected call, or the call of
   * its wrap-up. */
  function ctiFormCall() {
    const a = state.agent;
    if (!a) return null;
    const call = state.call;
    if (ownsCall() && call.id === a.call_id) return call.id;
    if (a.status === 'after_service' && a.wrap_up_call) return a.wrap_up_call;
    // Just hung up here: the wrap-up is on its way (the next refresh says).
    if (call && call.id === a.call_id && isFinal(call) && call.agent === me() && call.answered_at) return call.id;
    return null;
  }

  function setSaved(st, text) {
    crm.form.saved = { state: st, text };
    const el = $('cti-saved');
    el.dataset.state = st;
    el.textContent = text;
  }

  function ctiFill(data, catalog) {
    const sel = $('cti-disposition');
    const opts = [['', '—']].concat((catalog.dispositions || []).map((d) => [d, d]));
    if (data.disposition && !opts.some(([v]) => v === data.disposition)) opts.push([data.disposition, data.disposition]);
    setOptions(sel, opts, data.disposition || '');
    const box = $('cti-tags');
    for (const l of [...box.querySelectorAll('label')]) l.remove();
    const tags = new Set(data.tags || []);
    const all = (catalog.tags || []).concat([...tags].filter((t) => !(catalog.tags || []).includes(t)));
    for (const t of all) {
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.dataset.tag = t;
      input.checked = tags.has(t);
      const l = document.createElement('label');
      l.append(input, document.createTextNode(t));
      box.appendChild(l);
    }
    box.hidden = all.length === 0;
    $('cti-notes').value = data.notes || '';
    $('cti-who').value = data.who || '';
    $('cti-what').value = data.what || '';
  }

  function ctiValues() {
    const text = (id) => $(id).value.trim() || null;
    return {
      disposition: $('cti-disposition').value || null,
      tags: [...$('cti-tags').querySelectorAll('input[data-tag]:checked')].map((i) => i.dataset.tag),
      notes: $('cti-notes').value,
      who: text('cti-who'),
      what: text('cti-what'),
    };
  }

  async function ctiLoad(callId) {
    const f = crm.form;
    clearTimeout(f.timer);
    f.timer = null;
    f.callId = callId;
    f.loaded = false;
    f.dirty = false;
    const token = ++f.token;
    setSaved('idle', 'loading…');
    try {
      const r = await api('GET', `/calls/${enc(callId)}/cti`);
      if (token !== f.token) return;
      f.catalog = r.catalog || { dispositions: [], tags: [] };
      ctiFill(r.data || {}, f.catalog);
      f.loaded = true;
      setSaved('idle', '');
      ctiApplyPrefill();
    } catch (e) {
      if (token !== f.token) return;
      setSaved('error', `not loaded: ${e.message}`);
      showError(new Error(`call details: ${e.message}`), true);
    } finally {
      render();
    }
  }

  /** Applies a screen pop's or a click's record to empty Name / Related To fields. */
  function ctiApplyPrefill() {
    const f = crm.form;
    const fill = f.loaded ? crm.prefill.get(f.callId) : null;
    if (!fill) return;
    crm.prefill.delete(f.callId);
    let changed = false;
    for (const [field, id] of [['who', fill.who], ['what', fill.what]]) {
      const input = $(`cti-${field}`);
      if (id && !input.value.trim()) {
        input.value = id;
        changed = true;
      }
    }
    if (changed) ctiChanged(0);
  }

  /** A field changed: save after `delay` ms. */
  function ctiChanged(delay) {
    const f = crm.form;
    if (!f.loaded) return;
    f.dirty = true;
    setSaved('dirty', 'unsaved changes');
    clearTimeout(f.timer);
    f.timer = setTimeout(() => ctiSave(), delay);
  }

  /** Saves the form now (one PUT at a time, in order); resolves when it is done. */
  function ctiSave() {
    const f = crm.form;
    clearTimeout(f.timer);
    f.timer = null;
    f.chain = f.chain.then(async () => {
      if (!f.dirty || !f.loaded || !f.callId) return;
      const callId = f.callId;
      const body = ctiValues();
      f.dirty = false;
      setSaved('saving', 'saving…');
      try {
        await api('PUT', `/calls/${enc(callId)}/cti`, body);
        if (f.callId === callId && !f.dirty) setSaved('saved', `saved ${fmtClock(now())}`);
      } catch (e) {
        if (f.callId === callId) setSaved('error', `not saved: ${e.message}`);
        showError(new Error(`call details not saved: ${e.message}`));
      }
    });
    return f.chain;
  }

  /** Saves what is unsaved (before the call leaves this agent). */
  async function ctiFlush() {
    const f = crm.form;
    if (f.timer || f.dirty) await ctiSave();
    else await f.chain;
  }

  // --- the log

  function utcDate(ms) {
    return new Date(ms).toISOString().slice(0, 10);
  }

  function setLogged(st, text, callId, recordId) {
    const el = $('cti-logged');
    el.hidden = !text;
    el.dataset.state = st;
    el.dataset.callId = callId || '';
    el.dataset.recordId = recordId || '';
    el.textContent = text;
  }

  /** A failed saveLog is tried again (at the next look, 3 s on), at most three times. */
  function ctiRetryLater(callId) {
    const n = (crm.failures.get(callId) || 0) + 1;
    crm.failures.set(callId, n);
    if (n < 3) {
      crm.logged.delete(callId);
      crm.watch.add(callId);
    }
  }

  /** saveLog for a call this agent is done with (answered calls only, ended, its own). */
  async function ctiLog(callId) {
    if (crm.logging.has(callId) || crm.logged.has(callId)) return;
    const last = crm.checked.get(callId) || 0;
    if (Date.now() - last < 3000) return;
    crm.checked.set(callId, Date.now());
    crm.logging.add(callId);
    try {
      const call = await api('GET', `/calls/${enc(callId)}`);
      if (!isFinal(call)) {
        // Handed to a colleague: theirs to log. Still this agent's: look again later.
        if (call.agent !== me()) crm.watch.delete(callId);
        return;
      }
      crm.watch.delete(callId);
      if (call.agent !== me() || !call.answered_at) return;
      crm.logged.add(callId);
      if (!ctiUsable()) {
        // Stand-alone: nothing to say; a CRM page that is not allowed: say so.
        const refused = ctiStatus() === 'refused';
        setLogged('skipped', refused ? 'The CRM page is not allowed: the call was not logged in it.' : '', callId);
        return;
      }
      const r = await api('GET', `/calls/${enc(callId)}/cti`);
      const d = r.data || {};
      const tags = d.tags || [];
      let description = d.notes || '';
      if (tags.length) description += `${description ? '\n\n' : ''}Tags: ${tags.join(', ')}`;
      // A callback is dialed by the contact center: outbound, as the server's connector says.
      const outbound = call.kind !== 'inbound';
      const value = {
        entityApiName: 'Task',
        CallObject: call.id,
        CallType: outbound ? 'Outbound' : 'Inbound',
        CallDurationInSeconds:
          call.talk_seconds != null ? call.talk_seconds : Math.max(0, Math.round((call.ended_at - call.answered_at) / 1000)),
        Subject: `Call ${outbound ? 'to' : 'from'} ${call.from}`,
        Description: description,
        Status: 'Completed',
        ActivityDate: utcDate(call.ended_at || call.created_at),
      };
      if (d.disposition) value.CallDisposition = d.disposition;
      if (d.who) value.WhoId = d.who;
      if (d.what) value.WhatId = d.what;
      const res = await ctiCall('saveLog', { value });
      if (res.success) {
        const rid = res.returnValue && res.returnValue.recordId;
        setLogged('logged', `Logged in the CRM${rid ? ` (${rid})` : ''}.`, callId, rid);
      } else {
        setLogged('error', `CRM log not saved: ${ctiErrorText(res)}`, callId);
        ctiRetryLater(callId);
      }
    } catch (e) {
      crm.logged.delete(callId);
      setLogged('error', `CRM log not saved: ${e.message}`, callId);
    } finally {
      crm.logging.delete(callId);
    }
  }

  /** Follows the panel's state: screen pops, the form's call, logs of calls left behind.
   * Called at each render; starts work only on changes. */
  function ctiSync() {
    const a = state.agent;
    const call = state.call;
    if (!state.session || !a) return;
    if (
      a.status === 'offered' &&
      call &&
      call.id === a.call_id &&
      !crm.searched.has(call.id) &&
      !(call.consult && call.consult.agent === me())
    ) {
      crm.searched.add(call.id);
      if (ctiUsable()) ctiScreenPop(call);
    }
    if (ownsCall() && call.id === a.call_id) crm.watch.add(call.id);
    if (a.wrap_up_call) crm.watch.add(a.wrap_up_call);
    const formCall = ctiFormCall();
    if (formCall !== crm.form.callId) {
      if (crm.form.dirty || crm.form.timer) ctiSave();
      if (formCall) ctiLoad(formCall);
      else {
        crm.form.callId = null;
        crm.form.loaded = false;
        crm.form.token++;
      }
    }
    const held = a.held_calls || [];
    for (const id of [...crm.watch]) {
      if (id === a.call_id || id === a.wrap_up_call || held.includes(id)) continue;
      if (id === crm.form.callId) continue;
      // Done with it: log it once the last save went through.
      crm.form.chain.then(() => ctiLog(id));
    }
  }

  function renderCtiState() {
    const st = ctiStatus();
    const flag = $('cti-state');
    flag.dataset.state = st;
    flag.dataset.connected = String(st === 'connected' || st === 'salesforce');
    flag.textContent = CTI_STATE_TEXT[st] || st;
    const o = window.SwitchyardOpenCti;
    flag.title =
      st === 'connected' && o && o.hostOrigin
        ? `CRM page: ${o.hostOrigin}`
        : st === 'refused' && o
          ? `The CRM page ${o.refusedOrigin} is not allowed ([cti] allowed_origins)`
          : st === 'no-host'
            ? 'The page around this panel does not answer Open CTI'
            : st === 'standalone'
              ? 'Stand-alone: no CRM page around this panel'
              : 'CRM';
  }

  function renderCti() {
    ctiSync();
    const form = $('cti-form');
    const f = crm.form;
    const show = !!f.callId && f.callId === ctiFormCall();
    form.hidden = !show;
    form.dataset.callId = show ? f.callId : '';
    for (const el of form.querySelectorAll('select, input, textarea')) el.disabled = !f.loaded;
  }

  function wireCti() {
    const form = $('cti-form');
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      ctiSave();
    });
    form.addEventListener('change', () => ctiChanged(CTI_CHOICE_DELAY_MS));
    form.addEventListener('input', (ev) => {
      if (ev.target.matches('textarea, input[type="text"], input:not([type])')) ctiChanged(CTI_TYPING_DELAY_MS);
    });
    form.addEventListener('focusout', () => {
      if (crm.form.timer) ctiSave();
    });
    const s = window.SwitchyardOpenCti;
    if (s && typeof s.onStatus === 'function') s.onStatus(() => render());
    const o = opencti();
    if (o) {
      try {
        o.onClickToDial({
          listener: (payload) => action('click-to-dial', () => clickToDial(payload))(),
        });
        o.notifyInitializationComplete();
      } catch (e) {
        console.error('switchyard: Open CTI:', e);
      }
    }
  }

  // ---------------------------------------------------------------- wiring

  function updateTargetList() {
    const type = $('transfer-type').value;
    const list = $('transfer-targets');
    list.textContent = '';
    let items = [];
    if (type === 'agent') {
      items = state.agents.filter((a) => a.id !== me()).map((a) => [a.id, `${a.name || a.id} (${statusLabel(a.status)})`]);
    } else if (type === 'queue') {
      items = [...state.queues.values()].map((q) => [q.id, q.name || q.id]);
    }
    for (const [v, l] of items) {
      const o = document.createElement('option');
      o.value = v;
      o.label = l;
      list.appendChild(o);
    }
    $('transfer-target').placeholder = {
      agent: 'agent id, e.g. bob',
      queue: 'queue id, e.g. sales',
      group: 'group id',
      number: '+15551234567',
    }[type];
  }

  function wire() {
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
    $('status').addEventListener('change', action('status', setStatus));
    $('post-call-status').addEventListener('change', action('post-call-status', setPostCallStatus));
    $('accept').addEventListener('click', action('accept', accept));
    $('decline').addEventListener('click', action('decline', decline));
    $('hold').addEventListener(
      'click',
      action('hold', () => callAction(state.call && state.call.held ? 'resume' : 'hold'))
    );
    $('mute').addEventListener(
      'click',
      action('mute', () => callAction(state.call && state.call.muted ? 'unmute' : 'mute'))
    );
    $('record').addEventListener(
      'click',
      action('record', () =>
        callAction('recording', { action: state.call && state.call.recording !== 'off' ? 'stop' : 'start' })
      )
    );
    $('mask').addEventListener(
      'click',
      action('mask', () =>
        callAction('recording', { action: state.call && state.call.recording === 'masked' ? 'unmask' : 'mask' })
      )
    );
    $('hangup').addEventListener('click', action('hangup', hangup));
    $('transfer').addEventListener('click', action('transfer', transfer));
    $('consult').addEventListener('click', action('consult', consult));
    $('consult-complete').addEventListener(
      'click',
      action('consult-complete', async () => {
        await ctiFlush();
        await callAction('consult/complete');
      })
    );
    $('consult-cancel').addEventListener('click', action('consult-cancel', () => callAction('consult/cancel')));
    $('conference').addEventListener('click', action('conference', () => callAction('consult/conference')));
    $('end-wrap-up').addEventListener('click', action('end-wrap-up', endWrapUp));
    $('reconnect-audio').addEventListener(
      'click',
      action('reconnect-audio', async () => {
        if (!ownsCall()) return;
        state.mediaTried.delete(state.call.id);
        await startMedia(state.call.id);
      })
    );
    $('take-back').addEventListener('click', action('take-back', takeBack));
    $('transfer-type').addEventListener('change', updateTargetList);
    $('transfer-panel').addEventListener('toggle', () => {
      if ($('transfer-panel').open) {
        loadAgents().then(updateTargetList);
      }
    });
    $('dtmf').addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-digit]');
      if (b && !b.disabled) sendDigit(b.dataset.digit);
    });
    // With the keypad open, typed digits are sent too (not while typing in a field).
    document.addEventListener('keydown', (ev) => {
      if (!$('dtmf-panel').open || $('call').hidden) return;
      const tag = ev.target && ev.target.tagName;
      if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA') return;
      if (/^[0-9*#]$/.test(ev.key) && ownsCall() && !state.call.held) sendDigit(ev.key);
    });
  }

  wire();
  wireCti();
  updateTargetList();
  state.session = loadSession();
  render();
  if (state.session) start();
  else $('username').focus();
})();
