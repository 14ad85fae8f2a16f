/*
 * Switchyard web call (/call): a customer calls a queue from the browser. Plain ES2020, no
 * build step; meant to be embedded (iframe with allow="microphone") or linked to.
 *
 * Flow: microphone → RTCPeerConnection → offer with every ICE candidate (no trickle) →
 * POST /api/v1/web-calls {queue, name?, sdp} → the answer and a customer token → the call's
 * state polled every second from GET /api/v1/web-calls/{id} → POST …/hangup to leave.
 *
 * Stable element ids:
 *   #queue    the queue select (fixed and disabled when ?queue=<id> is given)
 *   #name     optional name; #call starts the call; #hangup ends it
 *   #state    the status line; data-state is one of idle, connecting, waiting, offering
 *             (an agent is being rung), connected, held, ended, failed
 *   #state-detail, #timer (waiting, talking, or on hold: the time on hold; its title says
 *             which), #error / #error-text, #remote-audio
 * For tests: window.switchyard = {pc, remoteStream, callId} (callId stays set after the call
 * ends; pc and remoteStream are null when no call is up).
 */
'use strict';

(() => {
  const API = '/api/v1';
  const AUDIO = { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } };
  const POLL_MS = 1000;
  const LABELS = {
    idle: 'Ready to call',
    connecting: 'Connecting…',
    waiting: 'Waiting in queue',
    offering: 'Waiting in queue',
    connected: 'Connected',
    held: 'On hold',
    ended: 'Call ended',
    failed: 'Call failed',
  };

  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  const call = {
    id: null,
    token: null,
    pc: null,
    local: null,
    remoteStream: null,
    phase: 'idle',
    active: false, // from the Call click until the call is over
    aborted: false, // hung up while still connecting
    pollTimer: null,
    phaseSince: 0,
  };

  window.switchyard = {
    get pc() {
      return call.pc;
    },
    get remoteStream() {
      return call.remoteStream;
    },
    get callId() {
      return call.id;
    },
  };

  function showError(e) {
    const msg = e && e.message ? e.message : String(e);
    console.error('switchyard:', e);
    $('error-text').textContent = msg;
    $('error').hidden = false;
  }

  function clearError() {
    $('error').hidden = true;
    $('error-text').textContent = '';
  }

  async function api(method, path, body, token) {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(API + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new Error(`cannot reach the server: ${e.message}`);
    }
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
      err.code = data && data.error ? data.error.code : undefined;
      throw err;
    }
    return data;
  }

  function fmtDuration(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const m = Math.floor(total / 60);
    return `${m}:${String(total % 60).padStart(2, '0')}`;
  }

  function setPhase(phase, detail) {
    if (phase !== call.phase) {
      // Waiting and offering are one wait for the customer; connected and held one talk.
      const sameStretch =
        (['waiting', 'offering'].includes(phase) && ['waiting', 'offering'].includes(call.phase)) ||
        (['connected', 'held'].includes(phase) && ['connected', 'held'].includes(call.phase));
      if (!sameStretch) call.phaseSince = Date.now();
      // On hold the customer sees how long the hold lasts; back in conversation, talk time.
      if (phase === 'held') call.holdSince = Date.now();
      call.phase = phase;
    }
    const el = $('state');
    el.dataset.state = phase;
    el.textContent = LABELS[phase] || phase;
    const defaultDetail = {
      offering: 'An agent is being called',
      held: 'The agent put you on hold',
      connecting: 'Allow the microphone if your browser asks',
    }[phase];
    $('state-detail').textContent = detail !== undefined ? detail : defaultDetail || '';
    render();
  }

  function render() {
    const idle = !call.active;
    $('call').disabled = !idle || $('queue').options.length === 0;
    $('hangup').disabled = idle;
    $('queue').disabled = !idle || $('queue').dataset.fixed === 'true';
    $('name').disabled = !idle;
    tick();
  }

  function tick() {
    const running = ['waiting', 'offering', 'connected', 'held'].includes(call.phase);
    const held = call.phase === 'held';
    const since = held ? call.holdSince : call.phaseSince;
    $('timer').textContent = running ? fmtDuration(Date.now() - since) : '';
    $('timer').title = held ? 'Time on hold' : ['waiting', 'offering'].includes(call.phase) ? 'Waiting time' : 'Talk time';
  }

  // ---------------------------------------------------------------- queues

  async function loadQueues() {
    const params = new URLSearchParams(location.search);
    const wanted = params.get('queue');
    const name = params.get('name');
    if (name) $('name').value = name;
    const select = $('queue');
    let queues = [];
    try {
      queues = (await api('GET', '/web-queues')).queues || [];
    } catch (e) {
      if (!wanted) showError(new Error(`cannot list the queues: ${e.message}`));
    }
    select.textContent = '';
    const add = (q) => {
      const o = document.createElement('option');
      o.value = q.id;
      o.textContent = q.name || q.id;
      select.appendChild(o);
    };
    if (wanted) {
      add(queues.find((q) => q.id === wanted) || { id: wanted, name: wanted });
      select.dataset.fixed = 'true';
    } else {
      queues.forEach(add);
      if (queues.length === 0) setPhase('idle', 'No line takes web calls right now.');
    }
    render();
  }

  // ---------------------------------------------------------------- media

  async function iceServers() {
    try {
      const j = await api('GET', '/media-config');
      return (Array.isArray(j.ice_servers) ? j.ice_servers : []).map((s) => {
        const out = { urls: s.urls };
        if (s.username != null) out.username = s.username;
        if (s.credential != null) out.credential = s.credential;
        return out;
      });
    } catch (e) {
      console.warn('switchyard: no media configuration, using no ICE servers:', e);
      return [];
    }
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

  function closeMedia() {
    if (call.pc) call.pc.close();
    if (call.local) for (const t of call.local.getTracks()) t.stop();
    call.pc = null;
    call.local = null;
    call.remoteStream = null;
    $('remote-audio').srcObject = null;
  }

  // ---------------------------------------------------------------- the call

  async function startCall(ev) {
    ev.preventDefault();
    if (call.active) return;
    clearError();
    const queue = $('queue').value;
    if (!queue) return showError(new Error('choose whom to call'));
    const name = $('name').value.trim();
    call.active = true;
    call.aborted = false;
    call.id = null;
    call.token = null;
    setPhase('connecting');
    try {
      const servers = await iceServers();
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw new Error('this browser gives no microphone access here (a secure context is needed)');
      }
      try {
        call.local = await navigator.mediaDevices.getUserMedia(AUDIO);
      } catch (e) {
        throw new Error(`no microphone: ${e.message}`);
      }
      if (call.aborted) throw new Error('cancelled');
      const pc = new RTCPeerConnection({ iceServers: servers });
      const remote = new MediaStream();
      call.pc = pc;
      call.remoteStream = remote;
      pc.ontrack = (e) => {
        if (!remote.getTrackById(e.track.id)) remote.addTrack(e.track);
        const audio = $('remote-audio');
        if (audio.srcObject !== remote) audio.srcObject = remote;
        if (audio.paused) {
          audio.play().catch((err) => {
            // A newer source replaced this one before it started: nothing is lost.
            if (err.name !== 'AbortError') showError(new Error(`cannot play the call's audio: ${err.message}`));
          });
        }
      };
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === 'failed' && call.pc === pc) {
          showError(new Error('the audio connection failed'));
        }
      };
      for (const t of call.local.getAudioTracks()) pc.addTrack(t, call.local);
      await pc.setLocalDescription(await pc.createOffer());
      await iceGathered(pc);
      if (call.aborted) throw new Error('cancelled');
      const body = { queue, sdp: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } };
      if (name) body.name = name;
      const r = await api('POST', '/web-calls', body);
      call.id = r.call_id;
      call.token = r.token;
      if (call.aborted) {
        await hangupRequest();
        throw new Error('cancelled');
      }
      await pc.setRemoteDescription({ type: r.sdp.type, sdp: r.sdp.sdp });
      setPhase('waiting');
      poll();
    } catch (e) {
      const cancelled = call.aborted;
      finish(cancelled ? 'ended' : 'failed');
      if (!cancelled) showError(e);
    }
  }

  async function poll() {
    clearTimeout(call.pollTimer);
    if (!call.active || !call.id) return;
    const id = call.id;
    try {
      const s = await api('GET', `/web-calls/${enc(id)}`, undefined, call.token);
      if (call.id !== id || !call.active) return;
      if ($('error').dataset.poll === 'true') {
        clearError();
        $('error').dataset.poll = '';
      }
      if (s.state === 'ended' || s.state === 'failed') return finish(s.state);
      setPhase(s.state === 'connected' && s.held ? 'held' : s.state);
    } catch (e) {
      if (call.id !== id || !call.active) return;
      if (e.status === 401 || e.status === 403 || e.status === 404) {
        showError(e);
        return finish('failed');
      }
      showError(new Error(`cannot check the call: ${e.message}`));
      $('error').dataset.poll = 'true';
    }
    call.pollTimer = setTimeout(poll, POLL_MS);
  }

  async function hangupRequest() {
    if (!call.id || !call.token) return null;
    return api('POST', `/web-calls/${enc(call.id)}/hangup`, undefined, call.token);
  }

  async function hangup() {
    if (!call.active) return;
    clearError();
    if (!call.id) {
      // Still connecting: the call is left as soon as it exists.
      call.aborted = true;
      $('hangup').disabled = true;
      return;
    }
    $('hangup').disabled = true;
    try {
      const r = await hangupRequest();
      finish(r && r.state === 'failed' ? 'failed' : 'ended');
    } catch (e) {
      showError(e);
      $('hangup').disabled = false;
    }
  }

  function finish(phase) {
    clearTimeout(call.pollTimer);
    closeMedia();
    call.active = false;
    setPhase(phase);
  }

  function wire() {
    $('call-form').addEventListener('submit', startCall);
    $('hangup').addEventListener('click', hangup);
    $('error-close').addEventListener('click', clearError);
    // Leaving the page leaves the call.
    window.addEventListener('pagehide', () => {
      if (!call.active || !call.id || !call.token) return;
      fetch(`${API}/web-calls/${enc(call.id)}/hangup`, {
        method: 'POST',
        headers: { authorization: `Bearer ${call.token}` },
        keepalive: true,
      }).catch(() => {});
    });
    setInterval(tick, 500);
  }

  wire();
  setPhase('idle');
  loadQueues();
})();
