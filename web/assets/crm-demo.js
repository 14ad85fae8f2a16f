/*
 * /crm-demo: a minimal CRM page hosting the Switchyard phone panel through
 * /cti/switchyard-host.js, as a real CRM would. Plain ES2020; the records live in this page.
 *
 *   #contacts      rows [data-record-id] (data-click-to-dial="on" once the panel enabled it);
 *                  numbers a.dial[data-number] call SwitchyardHost.clickToDial; names open
 *                  the record (and tell the panel: onNavigationChange)
 *   #record        the record shown: data-record-id (the screen-popped or opened record),
 *                  data-pop-type (sobject, search, newRecord, url, objecthome, list, flow)
 *   #logs          the saved call logs (saveLog), one per call: rows [data-call-id]
 *                  [data-record-id] with .subject, .disposition, .tags, .notes, .meta
 *   #panel         the phone panel iframe; #panel-state (data-connected), #panel-label
 *   #dial-note     why a click did not dial
 *
 * ?panel=<url> loads the panel from elsewhere (another Switchyard origin, which must list
 * this page's origin in [cti] allowed_origins). For tests: window.crmDemo = {host, records,
 * logs}.
 */
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  const RECORDS = [
    { Id: '001000000000001', RecordType: 'Account', Name: 'Analytical Engines Ltd', Phone: '+15550100', Industry: 'Machinery' },
    { Id: '001000000000002', RecordType: 'Account', Name: 'Compilers Inc', Phone: '+15550200', Industry: 'Software' },
    { Id: '003000000000001', RecordType: 'Contact', Name: 'Ada Lovelace', Phone: '+15550123', AccountId: '001000000000001', Title: 'Chief Mathematician' },
    { Id: '003000000000002', RecordType: 'Contact', Name: 'Grace Hopper', Phone: '+15550777', AccountId: '001000000000002', Title: 'Rear Admiral' },
    { Id: '003000000000003', RecordType: 'Contact', Name: 'Charles Babbage', Phone: '+15550555', AccountId: '001000000000001', Title: 'Inventor' },
    { Id: '00Q000000000001', RecordType: 'Lead', Name: 'Alan Turing', Phone: '+15550456', Company: 'Bletchley Park' },
    { Id: '00Q000000000002', RecordType: 'Lead', Name: 'Joan Clarke', Phone: '+15550555', Company: 'Bletchley Park' },
  ];
  const byId = new Map(RECORDS.map((r) => [r.Id, r]));
  const logs = new Map(); // CallObject -> log
  let taskSeq = 0;

  const digits = (s) => String(s || '').replace(/\D/g, '');
  const company = (r) => (r.AccountId && byId.get(r.AccountId) ? byId.get(r.AccountId).Name : r.Company || '');

  function el(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === 'class') n.className = v;
      else if (k.startsWith('data-')) n.setAttribute(k, v);
      else n[k] = v;
    }
    for (const c of children) n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return n;
  }

  // ---------------------------------------------------------------- the panel

  const params = new URLSearchParams(location.search);
  let panelUrl = '/agent';
  const asked = params.get('panel');
  if (asked) {
    try {
      const u = new URL(asked, location.href);
      if (/^https?:$/.test(u.protocol)) panelUrl = u.href;
    } catch (_) {
      /* keep the default */
    }
  }
  const panel = $('panel');
  panel.src = panelUrl;

  function showPanelState(st) {
    const s = $('panel-state');
    s.dataset.connected = String(st.connected);
    s.textContent = st.connected
      ? `phone: connected · click-to-dial ${st.clickToDial ? 'on' : 'off'}`
      : 'phone: not connected';
    $('contacts').dataset.clickToDial = st.connected && st.clickToDial ? 'on' : 'off';
    const label = [st.label, st.itemLabel].filter(Boolean).join(' · ');
    $('panel-label').textContent = label;
    $('panel-toggle').hidden = st.visible;
  }

  // ---------------------------------------------------------------- the record view

  function field(dl, name, value) {
    if (value === undefined || value === null || value === '') return;
    dl.append(el('dt', null, name), el('dd', null, value));
  }

  function showRecord(id, how) {
    const r = byId.get(id);
    const box = $('record');
    box.textContent = '';
    box.dataset.recordId = r ? r.Id : '';
    box.dataset.popType = how;
    if (!r) {
      box.append(el('p', { class: 'muted' }, `No record ${id} in this CRM.`));
      return;
    }
    box.append(el('h3', null, r.Name, ' ', el('span', { class: 'type' }, r.RecordType)));
    const dl = el('dl');
    field(dl, 'Id', r.Id);
    field(dl, 'Title', r.Title);
    field(dl, 'Company', company(r));
    field(dl, 'Industry', r.Industry);
    const phone = el('dd');
    phone.append(dialLink(r));
    dl.append(el('dt', null, 'Phone'), phone);
    box.append(dl);
    const calls = [...logs.values()].filter((l) => l.WhoId === r.Id || l.WhatId === r.Id);
    if (calls.length) box.append(el('p', { class: 'note muted' }, `${calls.length} logged call(s).`));
  }

  function showSearch(text, how) {
    const box = $('record');
    box.textContent = '';
    box.dataset.recordId = '';
    box.dataset.popType = how;
    const found = search(text);
    box.append(el('h3', null, `Search: ${text}`));
    if (!found.length) box.append(el('p', { class: 'muted' }, 'No match.'));
    const ul = el('ul');
    for (const r of found) {
      const open = el('button', { type: 'button', class: 'open' }, r.Name);
      open.addEventListener('click', () => openRecord(r.Id));
      ul.append(el('li', { 'data-record-id': r.Id }, open, ' ', el('span', { class: 'type' }, r.RecordType), ` ${r.Phone}`));
    }
    box.append(ul);
  }

  function showOther(how, text) {
    const box = $('record');
    box.textContent = '';
    box.dataset.recordId = '';
    box.dataset.popType = how;
    box.append(el('p', null, text));
  }

  function openRecord(id) {
    showRecord(id, 'open');
    const r = byId.get(id);
    if (r) {
      host.navigate({ url: `${location.origin}/crm-demo#${r.Id}`, recordId: r.Id, recordName: r.Name, objectType: r.RecordType });
    }
  }

  // ---------------------------------------------------------------- the contacts

  function dialLink(r) {
    const a = el('a', { class: 'dial', href: `tel:${r.Phone}`, 'data-number': r.Phone }, r.Phone);
    a.addEventListener('click', (ev) => {
      ev.preventDefault();
      const note = $('dial-note');
      let sent = false;
      try {
        sent = host.clickToDial({
          number: r.Phone,
          recordId: r.Id,
          recordName: r.Name,
          objectType: r.RecordType,
          accountId: r.AccountId,
          params: `recordId=${r.Id},objectType=${r.RecordType}`,
        });
      } catch (e) {
        note.textContent = e.message;
        return;
      }
      note.textContent = sent
        ? `Dialing ${r.Phone} (${r.Name}) from the phone panel…`
        : 'Click-to-dial is off: sign in to the phone panel first.';
    });
    return a;
  }

  function renderContacts() {
    const body = $('contacts');
    body.textContent = '';
    for (const r of RECORDS) {
      const open = el('button', { type: 'button', class: 'open' }, r.Name);
      open.addEventListener('click', () => openRecord(r.Id));
      body.append(
        el(
          'tr',
          { 'data-record-id': r.Id },
          el('td', null, open),
          el('td', null, el('span', { class: 'type' }, r.RecordType)),
          el('td', null, company(r)),
          el('td', null, dialLink(r))
        )
      );
    }
  }

  function search(text) {
    const d = digits(text);
    const t = String(text || '').trim().toLowerCase();
    if (!t) return [];
    return RECORDS.filter((r) => (d.length >= 3 && digits(r.Phone) === d) || (t.length >= 3 && r.Name.toLowerCase().includes(t)));
  }

  // ---------------------------------------------------------------- the logs

  /** Description is "notes\n\nTags: a, b" (as Switchyard writes it): split it back. */
  function splitDescription(text) {
    const s = String(text || '');
    const m = /(?:^|\n\n)Tags: ([^\n]*)$/.exec(s);
    if (!m) return { notes: s, tags: [] };
    return { notes: s.slice(0, m.index), tags: m[1].split(',').map((x) => x.trim()).filter(Boolean) };
  }

  function renderLogs() {
    const list = $('logs');
    list.textContent = '';
    if (!logs.size) {
      list.append(el('li', { class: 'muted empty' }, 'No call logged yet.'));
      return;
    }
    for (const l of [...logs.values()].reverse()) {
      const { notes, tags } = splitDescription(l.Description);
      const who = l.WhoId && byId.get(l.WhoId) ? byId.get(l.WhoId).Name : l.WhoId;
      const what = l.WhatId && byId.get(l.WhatId) ? byId.get(l.WhatId).Name : l.WhatId;
      const meta = [
        l.CallType,
        l.CallDurationInSeconds != null ? `${l.CallDurationInSeconds}s` : null,
        l.ActivityDate,
        who ? `Name: ${who}` : null,
        what ? `Related to: ${what}` : null,
        `Task ${l.Id}`,
        l.saves > 1 ? `saved ${l.saves}×` : null,
      ].filter(Boolean);
      list.append(
        el(
          'li',
          { 'data-call-id': l.CallObject || '', 'data-record-id': l.Id },
          el(
            'div',
            { class: 'head' },
            el('span', { class: 'subject' }, l.Subject || 'Call'),
            el('span', { class: 'disposition' }, l.CallDisposition || ''),
            el('span', { class: 'tags' }, tags.join(', '))
          ),
          el('p', { class: 'notes' }, notes),
          el('div', { class: 'meta' }, meta.join(' · '))
        )
      );
    }
  }

  /** saveLog: a Task per call, updated in place when the same call (or Id) is saved again. */
  function saveLog(value) {
    const existing = value.Id
      ? [...logs.values()].find((l) => l.Id === value.Id)
      : value.CallObject
        ? logs.get(value.CallObject)
        : null;
    if (value.Id && !existing) throw SwitchyardHost.error('GENERIC_ERROR', `saveLog: no record ${value.Id}`);
    const id = existing ? existing.Id : `00T${String(++taskSeq).padStart(12, '0')}`;
    const log = { ...(existing || {}), ...value, Id: id, saves: existing ? existing.saves + 1 : 1 };
    delete log.entityApiName;
    logs.set(log.CallObject || id, log);
    renderLogs();
    return { recordId: id };
  }

  // ---------------------------------------------------------------- the host

  const host = SwitchyardHost.init({
    panel,
    allowedOrigin: new URL(panelUrl, location.href).origin,
    onSearch: ({ searchParams }) => search(searchParams),
    onScreenPop: ({ type, params: p, defaultFieldValues }) => {
      switch (type) {
        case 'sobject':
          if (!byId.has(p.recordId)) throw new Error(`no record ${p.recordId} in this CRM`);
          showRecord(p.recordId, 'sobject');
          break;
        case 'search':
          showSearch(p.searchString, 'search');
          break;
        case 'newRecord': {
          const dv = { ...(p.defaultFieldValues || {}), ...(defaultFieldValues || {}) };
          const shown = Object.entries(dv).map(([k, v]) => `${k} = ${v}`).join(', ');
          showOther('newRecord', `New ${p.entityName}${shown ? ` (${shown})` : ''}`);
          break;
        }
        case 'url':
          showOther('url', `Page ${p.url}`);
          break;
        case 'objecthome':
          showOther('objecthome', `${p.scope} home`);
          break;
        case 'list':
          showOther('list', `${p.scope} list ${p.listViewId}`);
          break;
        case 'flow':
          showOther('flow', `Flow ${p.flowDevName}`);
          break;
        default:
          throw new Error(`cannot pop ${type}`);
      }
      return null;
    },
    onSaveLog: saveLog,
    onRefreshView: () => {
      renderContacts();
      renderLogs();
    },
    onPanelChange: showPanelState,
  });

  $('panel-toggle').addEventListener('click', () => host.setVisible(true));

  renderContacts();
  renderLogs();
  showPanelState(host.state);

  window.crmDemo = { host, records: RECORDS, logs };
})();
