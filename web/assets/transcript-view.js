/*
 * Switchyard live transcript: the model and renderer shared by /agent (agent.js) and
 * /supervisor (supervisor.js). Plain ES2020 classic script, no build step: load it with
 * <script src="/assets/transcript-view.js"></script> before the page's own script. It defines
 * one global, window.TranscriptView:
 *   create()              a new, empty transcript {legs, finals, alerts, rev, backfilled}
 *   apply(t, e)           applies a transcript.* event (or a stored final or alert, given the
 *                         type transcript.final / transcript.alert) to t; false for anything
 *                         else
 *   lines(t)              finals and the legs' current partials, in spoken order
 *   alerts(t)             t's keyword alerts, in spoken order
 *   level(t)              the highest severity among t's alerts (info < warning < critical),
 *                         or null
 *   render(box, t, label, alertsList)
 *                         draws t into box (.lines and .pauses inside) and its alerts into
 *                         alertsList (a list element; none: nothing drawn)
 *
 * The rules, so that words show as they come and never twice:
 *   - a leg's partial replaces its previous partial; a final of the leg replaces its partial;
 *   - a final seen before (same leg, times and words: the live event of a final the page also
 *     fetched after a reload, in either order) is not added again;
 *   - a final (or partial) that continues the leg's previous final exactly where it ended (the
 *     next piece of the same utterance) does not repeat the words that final ended with: when
 *     the decoder's next pass re-reads the end of the committed words, the repeated words are
 *     dropped (a speaker's own repetition at that boundary is lost with them);
 *   - lines are placed by `spoken_at` (when their first word was spoken, on the server's
 *     clock), so both legs interleave as spoken, and a leg that began again (a reconnected
 *     panel restarts its leg's clock) still lands at the end.
 *
 * DOM it draws (for tests and automation): in .lines, li.line[data-id][data-leg]
 * [data-stability="partial"|"final"][data-agent] (.same when the speaker is the previous
 * line's) holding span.who, span.text and span.tag (the alert's phrases; empty without);
 * a final that raised keyword alerts has .alert and data-alert="info|warning|critical" (the
 * highest); in .pauses, span.paused.flag.on[data-leg][data-reason][data-agent] per paused
 * leg; in alertsList, li.alert[data-severity][data-leg][data-agent] per alert.
 */
(function () {
  'use strict';

  const PAUSE_LABEL = { hold: 'paused (hold)', mask: 'paused (masked)', not_connected: 'paused (not connected)' };
  const SEVERITY = { info: 1, warning: 2, critical: 3 };

  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function newTranscript() {
    return { legs: new Map(), finals: [], alerts: [], rev: 0, backfilled: false, added: 0 };
  }

  const words = (text) => String(text || '').split(/\s+/).filter(Boolean);
  const norm = (w) => w.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');

  /** How many of `next`'s first words repeat `prev`'s last words (case and punctuation aside). */
  function repeated(prev, next) {
    for (let k = Math.min(prev.length, next.length); k > 0; k--) {
      let same = true;
      for (let i = 0; i < k && same; i++) same = norm(prev[prev.length - k + i]) === norm(next[i]);
      if (same) return k;
    }
    return 0;
  }

  const higher = (a, b) => ((SEVERITY[b] || 0) > (SEVERITY[a] || 0) ? b : a);

  /** The leg's final that `e` continues, if `e` starts exactly where it ended. */
  function continued(t, key, e, at) {
    let prev = null;
    for (const f of t.finals) {
      if (f.key !== key || f.at > at) continue;
      if (!prev || f.at > prev.at || (f.at === prev.at && f.n > prev.n)) prev = f;
    }
    return prev && prev.end_ms === e.start_ms ? prev : null;
  }

  /** The segment's words less those that repeat the final it continues. */
  function fresh(t, seg) {
    const prev = continued(t, seg.key, seg, seg.at);
    return (prev ? seg.words.slice(repeated(prev.words, seg.words)) : seg.words).join(' ');
  }

  /** Applies a transcript.* event (or a stored final or alert); false for anything else. */
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
      // On the server's clock: `spoken_at`; from an older server, the leg's clock (which
      // starts when the leg joined) put on the server's by when its window was heard.
      const heard = e.heard_at != null ? e.heard_at : e.at - (e.lag_ms || 0);
      if (leg.origin === null) leg.origin = heard - e.end_ms;
      const at = e.spoken_at != null ? e.spoken_at : leg.origin + e.start_ms;
      const raw = String(e.text || '').trim();
      const seg = {
        key,
        leg: leg.leg,
        agent: leg.agent,
        at,
        seq: e.seq || 0,
        start_ms: e.start_ms,
        end_ms: e.end_ms,
        raw,
        words: words(raw),
        stability: e.type === 'transcript.final' ? 'final' : 'partial',
        alert: null,
        phrases: [],
      };
      if (seg.stability === 'final') {
        const seen = t.finals.some(
          (f) => f.key === key && f.start_ms === seg.start_ms && f.end_ms === seg.end_ms && f.raw === raw
        );
        if (seen) return true;
        seg.text = fresh(t, seg);
        seg.n = ++t.added;
        seg.id = `${key}:${seg.start_ms}:${seg.n}`;
        leg.partial = null;
        t.finals.push(seg);
        for (const a of t.alerts) if (a.key === key && a.start_ms === seg.start_ms) mark(seg, a);
      } else {
        seg.text = fresh(t, seg);
        seg.n = ++t.added;
        seg.id = `${key}:partial`;
        leg.partial = seg.text ? seg : null;
      }
    } else if (e.type === 'transcript.alert') {
      const a = {
        key,
        leg: leg.leg,
        agent: leg.agent,
        phrase: String(e.phrase || ''),
        severity: e.severity || 'warning',
        text: e.text || '',
        start_ms: e.start_ms,
        end_ms: e.end_ms,
        at: e.spoken_at != null ? e.spoken_at : e.at,
      };
      if (t.alerts.some((x) => x.key === key && x.start_ms === a.start_ms && x.phrase === a.phrase)) return true;
      t.alerts.push(a);
      for (const f of t.finals) if (f.key === key && f.start_ms === a.start_ms) mark(f, a);
    } else {
      return false;
    }
    t.rev++;
    return true;
  }

  function mark(seg, a) {
    seg.alert = higher(seg.alert, a.severity);
    if (!seg.phrases.includes(a.phrase)) seg.phrases.push(a.phrase);
  }

  /** Finals and the legs' current partials, in spoken order. */
  function transcriptLines(t) {
    const lines = t ? t.finals.filter((f) => f.text) : [];
    if (t) for (const leg of t.legs.values()) if (leg.partial) lines.push(leg.partial);
    return lines.sort((a, b) => a.at - b.at || a.seq - b.seq || a.n - b.n);
  }

  /** The transcript's keyword alerts, in spoken order. */
  function transcriptAlerts(t) {
    return t ? t.alerts.slice().sort((a, b) => a.at - b.at) : [];
  }

  /** The highest severity among the transcript's alerts, or null. */
  function alertLevel(t) {
    return t ? t.alerts.reduce((lvl, a) => higher(lvl, a.severity), null) : null;
  }

  /** Draws `t` into `box` (.lines and .pauses inside), reusing the nodes already there, and
   * its alerts into `alertsList` if given; `label({leg, agent})` names a speaker. Keeps the
   * view at the bottom if it was. */
  function renderTranscript(box, t, label, alertsList) {
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
        li.append(el('span', 'who'), el('span', 'text'), el('span', 'tag'));
      }
      const who = label(s);
      li.dataset.leg = s.leg;
      li.dataset.stability = s.stability;
      if (s.agent) li.dataset.agent = s.agent;
      li.classList.toggle('same', who === prev);
      prev = who;
      li.querySelector('.who').textContent = who;
      li.querySelector('.text').textContent = s.text;
      li.classList.toggle('alert', !!s.alert);
      if (s.alert) li.dataset.alert = s.alert;
      else delete li.dataset.alert;
      const tag = li.querySelector('.tag');
      tag.textContent = s.phrases.length ? s.phrases.join(', ') : '';
      tag.hidden = !s.phrases.length;
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
    const list = alertsList;
    if (list) {
      list.textContent = '';
      for (const a of transcriptAlerts(t)) {
        const li = el('li', 'alert', `${a.severity}: “${a.phrase}” (${label(a)})`);
        li.dataset.severity = a.severity;
        li.dataset.leg = a.leg;
        if (a.agent) li.dataset.agent = a.agent;
        list.appendChild(li);
      }
      list.hidden = !list.children.length;
    }
    if (stick) box.scrollTop = box.scrollHeight;
  }

  window.TranscriptView = {
    create: newTranscript,
    apply: applyTranscript,
    lines: transcriptLines,
    alerts: transcriptAlerts,
    level: alertLevel,
    render: renderTranscript,
  };
})();
