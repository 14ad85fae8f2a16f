/*
 * Switchyard live transcript: the model and renderer shared by /agent (agent.js) and
 * /supervisor (supervisor.js). Plain ES2020 classic script, no build step: load it with
 * <script src="/assets/transcript-view.js"></script> before the page's own script. It defines
 * one global, window.TranscriptView:
 *   create()              a new, empty transcript {legs, finals, rev, backfilled}
 *   apply(t, e)           applies a transcript.* event (or a stored final) to t; false for
 *                         anything else
 *   lines(t)              finals and the legs' current partials, in spoken order
 *   render(box, t, label) draws t into box (.lines and .pauses inside)
 *
 * DOM it draws (for tests and automation): in .lines, li.line[data-id][data-leg]
 * [data-stability="partial"|"final"][data-agent] (.same when the speaker is the previous
 * line's) holding span.who and span.text; in .pauses, span.paused.flag.on[data-leg]
 * [data-reason][data-agent] per paused leg.
 */
(function () {
  'use strict';

  const PAUSE_LABEL = { hold: 'paused (hold)', mask: 'paused (masked)', not_connected: 'paused (not connected)' };

  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function newTranscript() {
    return { legs: new Map(), finals: [], rev: 0, backfilled: false };
  }

  /** Applies a transcript.* event (or a stored final); false for anything else. */
  function applyTranscript(t, e) {
    const key = e.leg === 'agent' ? `agent:${e.agent || ''}` : 'customer';
    let leg = t.legs.get(key);
    if (!leg) {
      const side = e.leg === 'agent' ? 'agent' : 'customer';
      leg = { key, leg: side, agent: e.agent || null, origin: null, partial: null, paused: null };
      t.legs.set(key, leg);
    }
    if (e.type === 'transcript.paused') {
      leg.paused = e.reason || 'hold';
      leg.partial = null; // its words were not kept: the pause closed them, or they were dropped
    } else if (e.type === 'transcript.resumed') {
      leg.paused = null;
    } else if (e.type === 'transcript.partial' || e.type === 'transcript.final') {
      // Each leg's clock starts when the leg joined: put segments on the server's clock (the
      // window's end was heard at `heard_at`, i.e. `lag_ms` before `at`) so that both legs
      // interleave as spoken.
      const heard = e.heard_at != null ? e.heard_at : e.at - (e.lag_ms || 0);
      if (leg.origin === null) leg.origin = heard - e.end_ms;
      const seg = {
        id: `${key}:${e.start_ms}`,
        key,
        leg: leg.leg,
        agent: leg.agent,
        at: leg.origin + e.start_ms,
        seq: e.seq || 0,
        text: String(e.text || '').trim(),
        stability: e.type === 'transcript.final' ? 'final' : 'partial',
      };
      if (seg.stability === 'final') {
        leg.partial = null;
        if (seg.text && !t.finals.some((f) => f.id === seg.id)) t.finals.push(seg);
      } else {
        leg.partial = seg.text ? seg : null;
      }
    } else {
      return false;
    }
    t.rev++;
    return true;
  }

  /** Finals and the legs' current partials, in spoken order. */
  function transcriptLines(t) {
    const lines = t ? t.finals.slice() : [];
    if (t) for (const leg of t.legs.values()) if (leg.partial) lines.push(leg.partial);
    return lines.sort((a, b) => a.at - b.at || a.seq - b.seq);
  }

  /** Draws `t` into `box` (.lines and .pauses inside), reusing the nodes already there;
   * `label({leg, agent})` names a speaker. Keeps the view at the bottom if it was. */
  function renderTranscript(box, t, label) {
    const ol = box.querySelector('.lines');
    const pauses = box.querySelector('.pauses');
    const stick = box.scrollHeight - box.scrollTop - box.clientHeight < 32;
    const have = new Map([...ol.children].map((li) => [li.dataset.id, li]));
    let prev = null;
    transcriptLines(t).forEach((s, i) => {
      const id = s.stability === 'final' ? `f:${s.id}` : `p:${s.key}`;
      let li = have.get(id);
      if (li) have.delete(id);
      else {
        li = el('li', 'line');
        li.dataset.id = id;
        li.append(el('span', 'who'), el('span', 'text'));
      }
      const who = label(s);
      li.dataset.leg = s.leg;
      li.dataset.stability = s.stability;
      if (s.agent) li.dataset.agent = s.agent;
      li.classList.toggle('same', who === prev);
      prev = who;
      li.firstChild.textContent = who;
      li.lastChild.textContent = s.text;
      if (ol.children[i] !== li) ol.insertBefore(li, ol.children[i] || null);
    });
    for (const li of have.values()) li.remove();
    pauses.textContent = '';
    for (const leg of t ? t.legs.values() : []) {
      if (!leg.paused) continue;
      const p = el('span', 'paused flag on', `${label(leg)}: ${PAUSE_LABEL[leg.paused] || `paused (${leg.paused})`}`);
      p.dataset.leg = leg.leg;
      p.dataset.reason = leg.paused;
      if (leg.agent) p.dataset.agent = leg.agent;
      pauses.appendChild(p);
    }
    if (stick) box.scrollTop = box.scrollHeight;
  }

  window.TranscriptView = {
    create: newTranscript,
    apply: applyTranscript,
    lines: transcriptLines,
    render: renderTranscript,
  };
})();
