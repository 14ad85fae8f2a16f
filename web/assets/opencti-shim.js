/*
 * Switchyard's Open CTI shim (/cti/opencti-shim.js): `window.sforce.opencti` with the methods,
 * argument objects, enums and callback shape of Salesforce's Lightning Open CTI, for a phone
 * panel that runs in an iframe of any CRM page including /cti/switchyard-host.js. Plain
 * ES2020, no build step, nothing fetched from elsewhere.
 *
 * Steps aside: when `window.sforce.opencti` already exists (Salesforce's own
 * lightning/opencti_min.js was loaded first, the panel runs inside Salesforce), this file
 * changes nothing in it; only `window.SwitchyardOpenCti` (below) is defined, saying so. When
 * the page's URL carries Salesforce's `sfdcIframeOrigin` and that origin is in
 * ALLOWED_ORIGINS, this file loads Salesforce's library from it (/support/api/<version>/
 * lightning/opencti_min.js, before the panel's own script) and steps aside.
 *
 * Methods (one argument object each, as in Lightning Open CTI; "cb" = callback):
 *   saveLog({value, cb?})                 value: {entityApiName | Id, fields…} -> {recordId}
 *   screenPop({type, params, defaultFieldValues?, cb?})     type: SCREENPOP_TYPE.*
 *   searchAndScreenPop({searchParams?, queryParams?, defaultFieldValues?, callType, deferred?,
 *                       cb?})             -> {<record id>: {Id, Name, RecordType, …}, …}
 *                                            (+ SCREEN_POP_DATA {type, params} if deferred)
 *   onClickToDial({listener})              listener({number, recordId, recordName,
 *                                            objectType, accountId?, contactId?, personAccount})
 *   enableClickToDial({cb?}), disableClickToDial({cb?})
 *   getCallCenterSettings({cb}), getSoftphoneLayout({cb})
 *   setSoftphonePanelVisibility({visible, cb?}), isSoftphonePanelVisible({cb}) -> {visible}
 *   setSoftphonePanelHeight({heightPX, cb?}), setSoftphonePanelWidth({widthPX, cb?})
 *   setSoftphonePanelLabel({label, cb?}), setSoftphonePanelIcon({key, cb?})
 *   setSoftphoneItemLabel({label, cb?}), setSoftphoneItemIcon({key, cb?})
 *   notifyInitializationComplete({callback?})
 *   onNavigationChange({listener})         listener({url, recordId, recordName, objectType})
 *   refreshView({cb?}), getAppViewInfo({cb}) -> {url, recordId, recordName, objectType}
 *   runApex({apexClass, methodName, methodParams?, cb?}) -> {runApex: result}
 * Enums: SCREENPOP_TYPE {SOBJECT 'sobject', URL 'url', OBJECTHOME 'objecthome', LIST 'list',
 * SEARCH 'search', NEW_RECORD_MODAL 'newRecord', FLOW 'flow'}; CALL_TYPE {INBOUND 'inbound',
 * OUTBOUND 'outbound', INTERNAL 'internal'}.
 *
 * Answers: callbacks always run asynchronously with {success, returnValue, errors}: on success
 * errors is null; on failure returnValue is null and errors is [{code, description, details}]
 * with Open CTI's codes: INVALID_PARAM (a bad or missing argument, checked here before
 * anything is sent), GENERIC_ERROR (the CRM page failed, answered nothing within
 * `SwitchyardOpenCti.timeoutMs` (5 s), is not allowed, or there is no CRM page),
 * SERVER_ERROR (runApex on a page that runs no Apex, as the page answers it).
 * What cannot be answered through a callback throws, as a programming error: a callback or
 * listener that is required (getters, on* listeners) or given but is not a function throws a
 * TypeError at the call. A bad argument object for a method whose callback is optional and
 * absent is reported with console.error only (never thrown).
 *
 * Stand-alone (not in an iframe): panel-side methods answer harmless defaults (visible: true,
 * setters succeed and change nothing, click-to-dial toggles succeed, settings and layout are
 * the defaults below); CRM work (saveLog, screenPop, searchAndScreenPop, refreshView,
 * getAppViewInfo, runApex) answers GENERIC_ERROR "no CRM host".
 *
 * Messages (window.postMessage, structured clone; every message has
 * protocol: 'switchyard-opencti', v: 1):
 *   panel -> host  {kind: 'request', id, method, args}   args without callback/listener
 *   host -> panel  {kind: 'response', id, success, returnValue, errors}
 *   host -> panel  {kind: 'event', event: 'hello' | 'clickToDial' | 'navigationChange',
 *                   payload}
 * The shim sends request 'hello' {clickToDial: bool, listeners: [...]} when it loads and
 * whenever the host says 'hello' (the host's page or the panel (re)loaded): the host answers
 * {host, version} and the shim is connected. Listener registrations (onClickToDial,
 * onNavigationChange) are sent as requests too, so the host knows what the panel listens to.
 *
 * Origins: messages are accepted only from window.parent, and only when their origin is one
 * of ALLOWED_ORIGINS (the server fills in `[cti] allowed_origins`) or this page's own origin.
 * Messages go to window.parent with an explicit targetOrigin, never '*': the parent's origin
 * as the browser tells it (location.ancestorOrigins, else document.referrer's origin) when
 * that origin is allowed, else this page's own origin; a 'hello' from the parent at an allowed
 * origin sets it too. A parent known to be at another origin is not talked to: requests
 * answer GENERIC_ERROR at once naming the origin to allow.
 *
 * window.SwitchyardOpenCti: {shim (false when the real Open CTI is there), status
 * ('standalone' | 'connecting' | 'connected' | 'no-host' | 'refused' | 'salesforce'),
 * hostOrigin, refusedOrigin, timeoutMs, onStatus(fn) (fn(status) at each change)}.
 */
(function () {
  'use strict';

  const ALLOWED_ORIGINS = /*ALLOWED_ORIGINS*/[];
  // The Open CTI API version of Salesforce's own library, loaded inside Salesforce.
  const SALESFORCE_API = '60.0';

  // Inside Salesforce, the call center's softphone URL gets ?sfdcIframeOrigin=<the org's
  // Lightning origin>. When that origin is allowed, Salesforce's own library is loaded from
  // it, synchronously (it runs right after this script, before the panel's), and the shim
  // steps aside. An origin that is not allowed loads nothing: the parameter is the page's
  // URL, anyone could set it.
  const sfdc = new URLSearchParams(location.search).get('sfdcIframeOrigin');
  if (
    sfdc &&
    ALLOWED_ORIGINS.includes(sfdc) &&
    !(window.sforce && window.sforce.opencti) &&
    document.readyState === 'loading'
  ) {
    document.write(`<script src="${sfdc}/support/api/${SALESFORCE_API}/lightning/opencti_min.js"><\/script>`);
    window.SwitchyardOpenCti = Object.freeze({
      shim: false,
      status: 'salesforce',
      hostOrigin: sfdc,
      refusedOrigin: null,
      timeoutMs: 0,
      onStatus() {},
    });
    return;
  }

  if (window.sforce && window.sforce.opencti) {
    // The real Open CTI library is loaded: step aside.
    if (!window.SwitchyardOpenCti) {
      window.SwitchyardOpenCti = Object.freeze({
        shim: false,
        status: 'salesforce',
        hostOrigin: null,
        refusedOrigin: null,
        timeoutMs: 0,
        onStatus() {},
      });
    }
    return;
  }

  const PROTOCOL = 'switchyard-opencti';
  const VERSION = 1;
  const SCREENPOP_TYPE = Object.freeze({
    SOBJECT: 'sobject',
    URL: 'url',
    OBJECTHOME: 'objecthome',
    LIST: 'list',
    SEARCH: 'search',
    NEW_RECORD_MODAL: 'newRecord',
    FLOW: 'flow',
  });
  const CALL_TYPE = Object.freeze({ INBOUND: 'inbound', OUTBOUND: 'outbound', INTERNAL: 'internal' });
  const CODES = ['INVALID_PARAM', 'GENERIC_ERROR', 'SERVER_ERROR', 'SOFTPHONE_CONTAINER_ERROR'];

  const inFrame = (() => {
    try {
      return window.parent !== window;
    } catch (_) {
      return true;
    }
  })();

  function originOf(url) {
    try {
      const u = new URL(url);
      return u.origin && u.origin !== 'null' ? u.origin : null;
    } catch (_) {
      return null;
    }
  }

  const accepted = new Set([location.origin]);
  for (const o of Array.isArray(ALLOWED_ORIGINS) ? ALLOWED_ORIGINS : []) {
    const n = typeof o === 'string' ? originOf(o) : null;
    if (n) accepted.add(n);
  }

  /** The parent's origin as the browser reports it, if it does. */
  function reportedParentOrigin() {
    try {
      const a = location.ancestorOrigins;
      if (a && a.length && a[0] && a[0] !== 'null') return a[0];
    } catch (_) {
      /* not available */
    }
    return document.referrer ? originOf(document.referrer) : null;
  }

  const link = {
    status: inFrame ? 'connecting' : 'standalone',
    target: location.origin,
    refused: null,
    listeners: new Set(),
  };
  if (inFrame) {
    const reported = reportedParentOrigin();
    if (reported && accepted.has(reported)) link.target = reported;
    else if (reported) {
      link.refused = reported;
      link.status = 'refused';
    }
  }

  const api = {
    shim: true,
    get status() {
      return link.status;
    },
    get hostOrigin() {
      return link.status === 'connected' ? link.target : null;
    },
    get refusedOrigin() {
      return link.refused;
    },
    timeoutMs: 5000,
    onStatus(fn) {
      if (typeof fn === 'function') link.listeners.add(fn);
    },
  };
  window.SwitchyardOpenCti = api;

  function setStatus(s) {
    if (link.status === s) return;
    link.status = s;
    for (const fn of link.listeners) {
      try {
        fn(s);
      } catch (e) {
        console.error('SwitchyardOpenCti.onStatus listener:', e);
      }
    }
  }

  // ---------------------------------------------------------------- answers

  const ok = (returnValue) => ({ success: true, returnValue: returnValue === undefined ? null : returnValue, errors: null });
  const failure = (code, description, details) => ({
    success: false,
    returnValue: null,
    errors: [{ code, description, details }],
  });
  const GENERIC = 'An error occurred while calling the API method.';
  const noHost = (method) =>
    failure('GENERIC_ERROR', `${GENERIC} ${method}: no CRM host (the phone panel is not inside a CRM page).`);

  function kindOf(v) {
    if (v === null) return 'null';
    if (Array.isArray(v)) return 'an array';
    if (typeof v === 'string') return v === '' ? 'an empty string' : `the string "${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    if (typeof v === 'undefined') return 'undefined';
    return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
  }

  function invalid(name, expected, found) {
    return `An invalid value was passed to the parameter ${name}. ${expected} was expected, but ${kindOf(found)} was found instead.`;
  }

  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const isText = (v) => typeof v === 'string' && v.trim() !== '';

  /** Checks for the argument object's fields; each returns a description or null. */
  const need = {
    text: (name) => (a) => (isText(a[name]) ? null : invalid(name, 'A non-empty string', a[name])),
    optText: (name) => (a) =>
      a[name] === undefined || a[name] === null || typeof a[name] === 'string' ? null : invalid(name, 'A string', a[name]),
    bool: (name) => (a) => (typeof a[name] === 'boolean' ? null : invalid(name, 'A boolean value', a[name])),
    optBool: (name) => (a) =>
      a[name] === undefined || typeof a[name] === 'boolean' ? null : invalid(name, 'A boolean value', a[name]),
    optObject: (name) => (a) =>
      a[name] === undefined || a[name] === null || isObject(a[name]) ? null : invalid(name, 'An object', a[name]),
    pixels: (name) => (a) =>
      typeof a[name] === 'number' && Number.isFinite(a[name]) && a[name] > 0
        ? null
        : invalid(name, 'A positive numeric value', a[name]),
  };

  const POP_PARAMS = {
    sobject: (p) => (isText(p.recordId) ? null : invalid('params.recordId', 'A record id', p.recordId)),
    url: (p) => (isText(p.url) ? null : invalid('params.url', 'A URL', p.url)),
    objecthome: (p) => (isText(p.scope) ? null : invalid('params.scope', 'An object name', p.scope)),
    list: (p) =>
      !isText(p.listViewId)
        ? invalid('params.listViewId', 'A list view id', p.listViewId)
        : isText(p.scope)
          ? null
          : invalid('params.scope', 'An object name', p.scope),
    search: (p) =>
      typeof p.searchString === 'string' && p.searchString.trim().length >= 3
        ? null
        : invalid('params.searchString', 'A string of at least 3 characters', p.searchString),
    newRecord: (p) =>
      !isText(p.entityName)
        ? invalid('params.entityName', 'An object API name', p.entityName)
        : p.defaultFieldValues === undefined || isObject(p.defaultFieldValues)
          ? null
          : invalid('params.defaultFieldValues', 'An object', p.defaultFieldValues),
    flow: (p) =>
      !isText(p.flowDevName)
        ? invalid('params.flowDevName', 'A flow API name', p.flowDevName)
        : p.flowArgs === undefined || Array.isArray(p.flowArgs)
          ? null
          : invalid('params.flowArgs', 'An array', p.flowArgs),
  };
  const POP_TYPES = Object.values(SCREENPOP_TYPE);
  const CALL_TYPES = Object.values(CALL_TYPE);

  const DEFAULT_SETTINGS = Object.freeze({
    '/displayNameLabel': 'Display Name',
    '/internalNameLabel': 'Internal Name',
    '/reqGeneralInfo/reqAdapterUrl': `${location.origin}/agent`,
    '/reqGeneralInfo/reqDisplayName': 'Switchyard',
    '/reqGeneralInfo/reqInternalName': 'Switchyard',
    '/reqGeneralInfo/reqSalesforceCompatibilityMode': 'Lightning',
    '/reqGeneralInfo/reqSoftphoneHeight': '600',
    '/reqGeneralInfo/reqSoftphoneWidth': '320',
    '/reqGeneralInfo/reqUseApi': 'true',
  });

  function defaultLayout() {
    const objects = { Account: [], Contact: [], Lead: [] };
    const pops = {
      screenPopsOpenWithin: 'ExistingWindow',
      SingleMatch: { screenPopType: 'PopToEntity' },
      MultipleMatches: { screenPopType: 'PopToSearch' },
      NoMatch: { screenPopType: 'DoNotPop' },
    };
    const one = () => ({
      callRelatedFields: ['ANI', 'DNIS', 'QUEUE'],
      objects: JSON.parse(JSON.stringify(objects)),
      screenPopSettings: JSON.parse(JSON.stringify(pops)),
    });
    return { Inbound: one(), Outbound: one(), Internal: one() };
  }

  /**
   * Method table: cb = 'required' | 'optional' | 'listener' | 'none';
   * check(args) -> description or null; standalone(args) -> answer when there is no host.
   */
  const METHODS = {
    saveLog: {
      cb: 'optional',
      check: (a) =>
        !isObject(a.value)
          ? invalid('value', 'An object', a.value)
          : isText(a.value.Id) || isText(a.value.id) || isText(a.value.entityApiName)
            ? null
            : invalid('value.entityApiName', 'An object API name (or value.Id)', a.value.entityApiName),
      // Salesforce's own demo adapter updates a record with a lower-case `id`: it means `Id`.
      prepare: (a) => {
        if (!isText(a.value.id) || isText(a.value.Id)) return a;
        const { id, ...rest } = a.value;
        return { ...a, value: { ...rest, Id: id } };
      },
      standalone: () => noHost('saveLog'),
    },
    screenPop: {
      cb: 'optional',
      check: (a) => {
        if (!POP_TYPES.includes(a.type)) return invalid('type', `One of ${POP_TYPES.join(', ')}`, a.type);
        if (!isObject(a.params)) return invalid('params', 'An object', a.params);
        return POP_PARAMS[a.type](a.params) || need.optObject('defaultFieldValues')(a);
      },
      standalone: () => noHost('screenPop'),
    },
    searchAndScreenPop: {
      cb: 'optional',
      check: (a) =>
        (CALL_TYPES.includes(a.callType) ? null : invalid('callType', `One of ${CALL_TYPES.join(', ')}`, a.callType)) ||
        need.optText('searchParams')(a) ||
        need.optText('queryParams')(a) ||
        need.optBool('deferred')(a) ||
        need.optObject('defaultFieldValues')(a),
      standalone: () => noHost('searchAndScreenPop'),
    },
    onClickToDial: { cb: 'listener', event: 'clickToDial' },
    enableClickToDial: {
      cb: 'optional',
      local: () => {
        state.clickToDial = true;
      },
      standalone: () => ok(null),
    },
    disableClickToDial: {
      cb: 'optional',
      local: () => {
        state.clickToDial = false;
      },
      standalone: () => ok(null),
    },
    getCallCenterSettings: { cb: 'required', standalone: () => ok({ ...DEFAULT_SETTINGS }) },
    getSoftphoneLayout: { cb: 'required', standalone: () => ok(defaultLayout()) },
    setSoftphonePanelVisibility: { cb: 'optional', check: need.bool('visible'), standalone: () => ok(null) },
    isSoftphonePanelVisible: { cb: 'required', standalone: () => ok({ visible: true }) },
    setSoftphonePanelHeight: { cb: 'optional', check: need.pixels('heightPX'), standalone: () => ok(null) },
    setSoftphonePanelWidth: { cb: 'optional', check: need.pixels('widthPX'), standalone: () => ok(null) },
    setSoftphonePanelLabel: { cb: 'optional', check: need.text('label'), standalone: () => ok(null) },
    setSoftphonePanelIcon: { cb: 'optional', check: need.text('key'), standalone: () => ok(null) },
    setSoftphoneItemLabel: { cb: 'optional', check: need.text('label'), standalone: () => ok(null) },
    setSoftphoneItemIcon: { cb: 'optional', check: need.text('key'), standalone: () => ok(null) },
    // Salesforce's samples pass a callback; it is answered once the CRM page has noted it.
    notifyInitializationComplete: { cb: 'optional', standalone: () => ok(null) },
    onNavigationChange: { cb: 'listener', event: 'navigationChange' },
    refreshView: { cb: 'optional', standalone: () => noHost('refreshView') },
    getAppViewInfo: { cb: 'required', standalone: () => noHost('getAppViewInfo') },
    runApex: {
      cb: 'optional',
      check: (a) => need.text('apexClass')(a) || need.text('methodName')(a) || need.optText('methodParams')(a),
      standalone: () => noHost('runApex'),
    },
  };

  const state = {
    clickToDial: false,
    listeners: { clickToDial: null, navigationChange: null },
    seq: 0,
    pending: new Map(), // id -> {resolve, timer}
    prefix: Math.random().toString(36).slice(2, 10),
  };

  // ---------------------------------------------------------------- transport

  function post(message) {
    window.parent.postMessage({ protocol: PROTOCOL, v: VERSION, ...message }, link.target);
  }

  /** Sends a request; resolves with the host's answer, or GENERIC_ERROR on timeout. */
  function request(method, args) {
    if (link.status === 'refused') {
      return Promise.resolve(
        failure(
          'GENERIC_ERROR',
          `${GENERIC} ${method}: the CRM page's origin ${link.refused} is not allowed to host this panel (add it to [cti] allowed_origins).`
        )
      );
    }
    const id = `${state.prefix}-${++state.seq}`;
    return new Promise((resolve) => {
      const ms = Number(api.timeoutMs) > 0 ? Number(api.timeoutMs) : 5000;
      const timer = setTimeout(() => {
        state.pending.delete(id);
        resolve(failure('GENERIC_ERROR', `${GENERIC} ${method}: the CRM page did not answer within ${ms / 1000} s.`));
      }, ms);
      state.pending.set(id, { resolve, timer });
      try {
        post({ kind: 'request', id, method, args });
      } catch (e) {
        clearTimeout(timer);
        state.pending.delete(id);
        resolve(failure('GENERIC_ERROR', `${GENERIC} ${method}: ${e && e.message ? e.message : e}`));
      }
    });
  }

  /** A host's answer, checked: a malformed one is a GENERIC_ERROR. */
  function answerFrom(m) {
    if (typeof m.success !== 'boolean') return failure('GENERIC_ERROR', `${GENERIC} The CRM page answered malformed data.`);
    if (m.success) return ok(m.returnValue);
    const errors = Array.isArray(m.errors) ? m.errors : [];
    const clean = errors
      .filter((e) => isObject(e))
      .map((e) => ({
        code: CODES.includes(e.code) ? e.code : 'GENERIC_ERROR',
        description: typeof e.description === 'string' ? e.description : GENERIC,
        details: e.details,
      }));
    if (!clean.length) clean.push({ code: 'GENERIC_ERROR', description: GENERIC, details: undefined });
    return { success: false, returnValue: null, errors: clean };
  }

  function helloArgs() {
    return {
      clickToDial: state.clickToDial,
      listeners: Object.keys(state.listeners).filter((k) => state.listeners[k]),
    };
  }

  let helloRound = 0;
  function hello() {
    if (!inFrame || link.status === 'refused') return;
    const round = ++helloRound;
    if (link.status !== 'connected') setStatus('connecting');
    request('hello', helloArgs()).then((r) => {
      if (round !== helloRound) return;
      setStatus(r.success ? 'connected' : 'no-host');
    });
  }

  function deliver(listener, payload, what) {
    if (typeof listener !== 'function') return;
    try {
      listener(isObject(payload) ? payload : {});
    } catch (e) {
      console.error(`sforce.opencti ${what} listener:`, e);
    }
  }

  window.addEventListener('message', (ev) => {
    if (!inFrame || ev.source !== window.parent) return;
    if (!accepted.has(ev.origin)) return; // another origin: ignored
    const m = ev.data;
    if (!isObject(m) || m.protocol !== PROTOCOL || m.v !== VERSION) return;
    if (m.kind === 'response') {
      if (ev.origin !== link.target) return;
      const p = state.pending.get(m.id);
      if (!p) return;
      state.pending.delete(m.id);
      clearTimeout(p.timer);
      p.resolve(answerFrom(m));
    } else if (m.kind === 'event') {
      if (m.event === 'hello') {
        // The parent itself, at an allowed origin (the browser vouches for ev.origin).
        link.target = ev.origin;
        if (link.status === 'refused') {
          link.refused = null;
          setStatus('connecting');
        }
        hello();
        return;
      }
      if (ev.origin !== link.target || link.status !== 'connected') return;
      if (m.event === 'clickToDial') {
        if (state.clickToDial) deliver(state.listeners.clickToDial, m.payload, 'onClickToDial');
      } else if (m.event === 'navigationChange') {
        deliver(state.listeners.navigationChange, m.payload, 'onNavigationChange');
      }
    }
  });

  // ---------------------------------------------------------------- the methods

  function later(fn, value) {
    setTimeout(() => fn(value), 0);
  }

  function call(method, spec, args) {
    const a = args === undefined ? {} : args;
    const usable = isObject(a);
    if (spec.cb === 'listener') {
      if (!usable || typeof a.listener !== 'function') {
        throw new TypeError(`sforce.opencti.${method}: the listener must be a function`);
      }
      state.listeners[spec.event] = a.listener;
      if (inFrame && link.status !== 'refused') request(method, {});
      return undefined;
    }
    if (spec.cb === 'none') {
      if (inFrame && link.status !== 'refused') request(method, {});
      return undefined;
    }
    const cb = usable ? a.callback : undefined;
    if (spec.cb === 'required' && typeof cb !== 'function') {
      throw new TypeError(`sforce.opencti.${method}: the callback must be a function`);
    }
    if (cb !== undefined && typeof cb !== 'function') {
      throw new TypeError(`sforce.opencti.${method}: the callback must be a function`);
    }
    const answer = (r) => {
      if (cb) later(cb, r);
      else if (!r.success) console.error(`sforce.opencti.${method}:`, r.errors[0].description);
    };
    if (!usable) {
      answer(failure('INVALID_PARAM', invalid('(the argument)', 'An object', a)));
      return undefined;
    }
    const problem = spec.check ? spec.check(a) : null;
    if (problem) {
      answer(failure('INVALID_PARAM', problem));
      return undefined;
    }
    const prepared = spec.prepare ? spec.prepare(a) : a;
    if (spec.local) spec.local(prepared);
    if (!inFrame) {
      answer(spec.standalone(prepared));
      return undefined;
    }
    const sent = {};
    for (const [k, v] of Object.entries(prepared)) {
      if (k === 'callback' || k === 'listener' || typeof v === 'function') continue;
      sent[k] = v;
    }
    let payload;
    try {
      payload = JSON.parse(JSON.stringify(sent));
    } catch (e) {
      answer(failure('INVALID_PARAM', `The arguments of ${method} cannot be sent to the CRM page: ${e.message}`));
      return undefined;
    }
    request(method, payload).then(answer);
    return undefined;
  }

  const opencti = {
    SCREENPOP_TYPE,
    CALL_TYPE,
  };
  for (const [method, spec] of Object.entries(METHODS)) {
    opencti[method] = (args) => call(method, spec, args);
  }

  window.sforce = window.sforce || {};
  window.sforce.opencti = Object.freeze(opencti);

  if (inFrame) {
    if (link.status === 'refused') {
      console.error(
        `Switchyard Open CTI shim: the CRM page's origin ${link.refused} is not in [cti] allowed_origins; CRM features are off.`
      );
    } else hello();
  }
})();
