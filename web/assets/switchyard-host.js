/*
 * Switchyard host library (/cti/switchyard-host.js): lets any CRM page host the Switchyard
 * phone panel in an iframe and answer its Open CTI calls (the panel's /cti/opencti-shim.js
 * gives it `sforce.opencti`, as in Salesforce Lightning). Plain ES2020, no dependencies.
 *
 *   <iframe id="phone" src="https://switchyard.example.org/agent" allow="microphone"></iframe>
 *   <script src="https://switchyard.example.org/cti/switchyard-host.js"></script>
 *   <script>
 *     const host = SwitchyardHost.init({
 *       panel: document.getElementById('phone'),
 *       // allowedOrigin: the panel's origin; by default this script's own origin.
 *       onSearch: ({searchParams, queryParams, callType}) => [{Id, Name, RecordType, …}],
 *       onScreenPop: ({type, params, defaultFieldValues}) => { …show it… },
 *       onSaveLog: (value) => ({recordId: '00T…'}),
 *     });
 *     // when the user clicks a phone number:
 *     SwitchyardHost.clickToDial({number, recordId, recordName, objectType});
 *     // when the user opens another record or page:
 *     SwitchyardHost.navigate({url, recordId, recordName, objectType});
 *   </script>
 *
 * Options (handlers may return a value or a Promise; a throw or a rejection answers
 * GENERIC_ERROR, or the code of a SwitchyardHost.error(code, description) thrown; the handlers
 * are read from the options object at each request, so they may be replaced later):
 *   panel (required)        the <iframe> of the phone panel
 *   allowedOrigin           the panel's origin (default: the origin this script came from)
 *   onScreenPop(args)       screenPop {type, params, defaultFieldValues} -> returnValue
 *   onSearch(args)          {searchParams, queryParams, callType, defaultFieldValues} ->
 *                           records (array or {id: record}; each {Id, Name, RecordType, …});
 *                           searchAndScreenPop then pops an inbound call's single match
 *                           (SOBJECT) or several (SEARCH) through onScreenPop, or returns
 *                           that pop as SCREEN_POP_DATA when deferred
 *   onSearchAndScreenPop(args)  replaces the above entirely: -> returnValue
 *   onSaveLog(value)        -> {recordId} (a string is taken as the recordId)
 *   onRefreshView()         (default: nothing to do, success)
 *   getAppViewInfo()        -> {url, recordId, recordName, objectType} (default: the last
 *                           navigate() info, else this page's URL)
 *   onRunApex(args)         (default: SERVER_ERROR "Could not load Apex class": no Apex here)
 *   callCenterSettings, softphoneLayout   objects answered to the getters (defaults below)
 *   applyPanel              true (default): visibility, height, width and label are applied
 *                           to the iframe (display, style.height/width, title)
 *   onPanelChange(state)    after each change of the panel state (see `state` below)
 *   onConnect(), onInitializationComplete()
 *
 * The instance (also SwitchyardHost.instance, the last one initialised):
 *   clickToDial(payload) -> true when sent: the panel is connected, enabled click-to-dial
 *                           and listens (onClickToDial); payload {number (required),
 *                           recordId, recordName, objectType, accountId, contactId,
 *                           personAccount}
 *   navigate(info)       -> true when sent to a listening panel; kept for getAppViewInfo
 *   state                a copy of {connected, clickToDial, listening: [...], visible, height,
 *                           width, label, icon, itemLabel, itemIcon, initialized}
 *   setVisible(bool)     the page shows or hides the panel itself (isSoftphonePanelVisible
 *                           answers it)
 *   options, allowedOrigin, destroy()
 *
 * Security: messages are taken only from the panel's window (event.source ===
 * panel.contentWindow) at allowedOrigin, and sent to that origin only. Protocol: see the
 * header of opencti-shim.js (protocol 'switchyard-opencti', v 1).
 */
(function () {
  'use strict';

  const PROTOCOL = 'switchyard-opencti';
  const VERSION = 1;
  const CODES = ['INVALID_PARAM', 'GENERIC_ERROR', 'SERVER_ERROR', 'SOFTPHONE_CONTAINER_ERROR'];
  const GENERIC = 'An error occurred while calling the API method.';

  const script = document.currentScript;
  const SCRIPT_ORIGIN = (() => {
    try {
      return new URL(script && script.src ? script.src : location.href, location.href).origin;
    } catch (_) {
      return location.origin;
    }
  })();

  class HostError extends Error {
    constructor(code, description, details) {
      super(description);
      this.code = CODES.includes(code) ? code : 'GENERIC_ERROR';
      this.details = details;
    }
  }

  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const isText = (v) => typeof v === 'string' && v.trim() !== '';
  const copy = (v) => (v === undefined ? null : JSON.parse(JSON.stringify(v)));

  function normalizeOrigin(o) {
    const u = new URL(o, location.href);
    if (!/^https?:$/.test(u.protocol)) throw new TypeError(`SwitchyardHost: ${o} is not an http(s) origin`);
    return u.origin;
  }

  /** Records as Open CTI returns them: {id: {Id, Name, RecordType, …}}. */
  function recordMap(found) {
    const out = {};
    const list = Array.isArray(found) ? found : isObject(found) ? Object.entries(found).map(([id, r]) => ({ Id: id, ...r })) : [];
    for (const r of list) {
      if (!isObject(r)) continue;
      const id = r.Id || r.id || r.recordId;
      if (!isText(id)) continue;
      out[id] = {
        ...r,
        Id: id,
        Name: r.Name || r.name || r.recordName || '',
        RecordType: r.RecordType || r.objectType || r.type || '',
      };
    }
    return out;
  }

  let current = null;

  function init(options) {
    if (!isObject(options) || !options.panel || options.panel.tagName !== 'IFRAME') {
      throw new TypeError('SwitchyardHost.init: options.panel must be the phone panel <iframe>');
    }
    if (current && current.options.panel === options.panel) current.destroy();
    const opts = options;
    const panel = opts.panel;
    const origin = normalizeOrigin(opts.allowedOrigin || SCRIPT_ORIGIN);
    try {
      const src = new URL(panel.src, location.href).origin;
      if (panel.src && src !== origin) {
        console.warn(`SwitchyardHost: the panel is at ${src} but only messages from ${origin} are taken (allowedOrigin)`);
      }
    } catch (_) {
      /* no src yet */
    }

    const s = {
      connected: false,
      clickToDial: false,
      listening: new Set(),
      visible: true,
      height: null,
      width: null,
      label: null,
      icon: null,
      itemLabel: null,
      itemIcon: null,
      initialized: false,
      appView: null,
    };

    const snapshot = () => ({
      connected: s.connected,
      clickToDial: s.clickToDial,
      listening: [...s.listening],
      visible: s.visible,
      height: s.height,
      width: s.width,
      label: s.label,
      icon: s.icon,
      itemLabel: s.itemLabel,
      itemIcon: s.itemIcon,
      initialized: s.initialized,
    });

    function post(message) {
      const w = panel.contentWindow;
      if (!w) return false;
      w.postMessage({ protocol: PROTOCOL, v: VERSION, ...message }, origin);
      return true;
    }

    function changed() {
      if (opts.applyPanel !== false) {
        panel.style.display = s.visible ? '' : 'none';
        if (s.height) panel.style.height = `${s.height}px`;
        if (s.width) panel.style.width = `${s.width}px`;
        if (s.label) panel.title = s.label;
      }
      if (typeof opts.onPanelChange === 'function') {
        try {
          opts.onPanelChange(snapshot());
        } catch (e) {
          console.error('SwitchyardHost onPanelChange:', e);
        }
      }
    }

    async function invoke(name, arg, fallback) {
      const fn = opts[name];
      if (typeof fn !== 'function') return fallback();
      return fn(arg);
    }

    const missing = (what) => () => {
      throw new HostError('GENERIC_ERROR', `${GENERIC} This CRM page does not handle ${what}.`);
    };

    function defaultSettings() {
      let adapter = '';
      try {
        adapter = new URL(panel.src, location.href).href;
      } catch (_) {
        /* none */
      }
      return {
        '/displayNameLabel': 'Display Name',
        '/internalNameLabel': 'Internal Name',
        '/reqGeneralInfo/reqAdapterUrl': adapter,
        '/reqGeneralInfo/reqDisplayName': 'Switchyard',
        '/reqGeneralInfo/reqInternalName': 'Switchyard',
        '/reqGeneralInfo/reqSalesforceCompatibilityMode': 'Lightning',
        '/reqGeneralInfo/reqSoftphoneHeight': String(s.height || panel.clientHeight || 600),
        '/reqGeneralInfo/reqSoftphoneWidth': String(s.width || panel.clientWidth || 320),
        '/reqGeneralInfo/reqUseApi': 'true',
      };
    }

    function defaultLayout() {
      const one = () => ({
        callRelatedFields: ['ANI', 'DNIS', 'QUEUE'],
        objects: {
          Contact: [{ apiName: 'Name', displayName: 'Name' }, { apiName: 'Phone', displayName: 'Phone' }],
          Lead: [{ apiName: 'Name', displayName: 'Name' }, { apiName: 'Phone', displayName: 'Phone' }],
          Account: [{ apiName: 'Name', displayName: 'Account Name' }, { apiName: 'Phone', displayName: 'Phone' }],
        },
        screenPopSettings: {
          screenPopsOpenWithin: 'ExistingWindow',
          SingleMatch: { screenPopType: 'PopToEntity' },
          MultipleMatches: { screenPopType: 'PopToSearch' },
          NoMatch: { screenPopType: 'DoNotPop' },
        },
      });
      return { Inbound: one(), Outbound: one(), Internal: one() };
    }

    async function searchAndScreenPop(a) {
      if (typeof opts.onSearchAndScreenPop === 'function') {
        const r = await opts.onSearchAndScreenPop(a);
        return Array.isArray(r) ? recordMap(r) : r;
      }
      if (typeof opts.onSearch !== 'function') missing('searchAndScreenPop')();
      const found = recordMap(
        await opts.onSearch({
          searchParams: a.searchParams == null ? '' : a.searchParams,
          queryParams: a.queryParams == null ? '' : a.queryParams,
          callType: a.callType,
          defaultFieldValues: a.defaultFieldValues || null,
        })
      );
      const ids = Object.keys(found);
      let pop = null;
      if (a.callType === 'inbound') {
        if (ids.length === 1) pop = { type: 'sobject', params: { recordId: ids[0] } };
        else if (ids.length > 1 && String(a.searchParams || '').trim().length >= 3) {
          pop = { type: 'search', params: { searchString: String(a.searchParams).trim() } };
        }
      }
      if (pop && a.deferred) found.SCREEN_POP_DATA = pop;
      else if (pop && typeof opts.onScreenPop === 'function') await opts.onScreenPop({ ...pop, defaultFieldValues: null });
      return found;
    }

    async function handle(method, a) {
      switch (method) {
        case 'hello':
          s.connected = true;
          s.clickToDial = !!a.clickToDial;
          s.listening = new Set(Array.isArray(a.listeners) ? a.listeners.filter((x) => typeof x === 'string') : []);
          if (typeof opts.onConnect === 'function') {
            try {
              opts.onConnect();
            } catch (e) {
              console.error('SwitchyardHost onConnect:', e);
            }
          }
          changed();
          return { host: 'switchyard-host', version: VERSION };
        case 'onClickToDial':
          s.listening.add('clickToDial');
          changed();
          return null;
        case 'onNavigationChange':
          s.listening.add('navigationChange');
          return null;
        case 'enableClickToDial':
        case 'disableClickToDial':
          s.clickToDial = method === 'enableClickToDial';
          changed();
          return null;
        case 'getCallCenterSettings':
          return isObject(opts.callCenterSettings) ? copy(opts.callCenterSettings) : defaultSettings();
        case 'getSoftphoneLayout':
          return isObject(opts.softphoneLayout) ? copy(opts.softphoneLayout) : defaultLayout();
        case 'setSoftphonePanelVisibility':
          s.visible = !!a.visible;
          changed();
          return null;
        case 'isSoftphonePanelVisible':
          return { visible: s.visible };
        case 'setSoftphonePanelHeight':
          s.height = Math.round(Number(a.heightPX));
          changed();
          return null;
        case 'setSoftphonePanelWidth':
          s.width = Math.round(Number(a.widthPX));
          changed();
          return null;
        case 'setSoftphonePanelLabel':
          s.label = String(a.label);
          changed();
          return null;
        case 'setSoftphonePanelIcon':
          s.icon = String(a.key);
          changed();
          return null;
        case 'setSoftphoneItemLabel':
          s.itemLabel = String(a.label);
          changed();
          return null;
        case 'setSoftphoneItemIcon':
          s.itemIcon = String(a.key);
          changed();
          return null;
        case 'notifyInitializationComplete':
          s.initialized = true;
          if (typeof opts.onInitializationComplete === 'function') opts.onInitializationComplete();
          changed();
          return null;
        case 'screenPop':
          return invoke('onScreenPop', { type: a.type, params: a.params, defaultFieldValues: a.defaultFieldValues || null }, missing('screenPop'));
        case 'searchAndScreenPop':
          return searchAndScreenPop(a);
        case 'saveLog': {
          const r = await invoke('onSaveLog', a.value, missing('saveLog'));
          return typeof r === 'string' ? { recordId: r } : r;
        }
        case 'refreshView':
          await invoke('onRefreshView', undefined, () => null);
          return null;
        case 'getAppViewInfo':
          return invoke('getAppViewInfo', undefined, () =>
            s.appView || { url: location.href, recordId: null, recordName: null, objectType: null }
          );
        case 'runApex': {
          const r = await invoke('onRunApex', { apexClass: a.apexClass, methodName: a.methodName, methodParams: a.methodParams || '' }, () => {
            throw new HostError('SERVER_ERROR', `Could not load Apex class: ${a.apexClass}. This CRM page is not Salesforce and runs no Apex.`);
          });
          return { runApex: r === undefined ? null : r };
        }
        default:
          throw new HostError('GENERIC_ERROR', `${GENERIC} Unknown method ${method}.`);
      }
    }

    async function onRequest(m) {
      const method = typeof m.method === 'string' ? m.method : '';
      const a = isObject(m.args) ? m.args : {};
      let reply;
      try {
        const rv = await handle(method, a);
        reply = { success: true, returnValue: copy(rv), errors: null };
      } catch (e) {
        const code = e instanceof HostError ? e.code : 'GENERIC_ERROR';
        const text = e && e.message ? e.message : String(e);
        const description = e instanceof HostError ? text : `${GENERIC} ${method}: ${text}`;
        reply = { success: false, returnValue: null, errors: [{ code, description, details: e instanceof HostError ? copy(e.details) : null }] };
      }
      post({ kind: 'response', id: m.id, ...reply });
    }

    function onMessage(ev) {
      if (!panel.contentWindow || ev.source !== panel.contentWindow) return;
      if (ev.origin !== origin) return;
      const m = ev.data;
      if (!isObject(m) || m.protocol !== PROTOCOL || m.v !== VERSION) return;
      if (m.kind === 'request' && typeof m.id === 'string') onRequest(m);
    }

    function sayHello() {
      // The panel answers with a 'hello' request (it may have loaded before this page's init).
      try {
        post({ kind: 'event', event: 'hello', payload: { host: 'switchyard-host', version: VERSION } });
      } catch (_) {
        /* the panel shows another origin for now */
      }
    }

    window.addEventListener('message', onMessage);
    panel.addEventListener('load', sayHello);
    sayHello();

    const instance = {
      options: opts,
      allowedOrigin: origin,
      get state() {
        return snapshot();
      },
      clickToDial(payload) {
        if (!isObject(payload) || !isText(payload.number)) {
          throw new TypeError('SwitchyardHost.clickToDial: {number} is required');
        }
        if (!s.connected || !s.clickToDial || !s.listening.has('clickToDial')) return false;
        const p = {
          number: payload.number.trim(),
          recordId: payload.recordId || null,
          recordName: payload.recordName || null,
          objectType: payload.objectType || null,
        };
        for (const k of ['accountId', 'contactId', 'personAccount']) if (payload[k] !== undefined) p[k] = payload[k];
        // Salesforce's comma-separated parameters of the number (lightning-click-to-dial's `params`).
        if (typeof payload.params === 'string') p.params = payload.params;
        return post({ kind: 'event', event: 'clickToDial', payload: copy(p) });
      },
      navigate(info) {
        const v = isObject(info) ? info : {};
        s.appView = {
          url: v.url || location.href,
          recordId: v.recordId || null,
          recordName: v.recordName || null,
          objectType: v.objectType || null,
        };
        if (!s.connected || !s.listening.has('navigationChange')) return false;
        return post({ kind: 'event', event: 'navigationChange', payload: copy(s.appView) });
      },
      /** The page shows or hides the panel itself (e.g. the user opens it again). */
      setVisible(visible) {
        s.visible = !!visible;
        changed();
      },
      destroy() {
        window.removeEventListener('message', onMessage);
        panel.removeEventListener('load', sayHello);
        s.connected = false;
        if (current === instance) current = null;
      },
    };
    current = instance;
    return instance;
  }

  function needInstance(what) {
    if (!current) throw new Error(`SwitchyardHost.${what}: call SwitchyardHost.init first`);
    return current;
  }

  window.SwitchyardHost = Object.freeze({
    PROTOCOL,
    VERSION,
    init,
    error: (code, description, details) => new HostError(code, description, details),
    clickToDial: (payload) => needInstance('clickToDial').clickToDial(payload),
    navigate: (info) => needInstance('navigate').navigate(info),
    get instance() {
      return current;
    },
  });
})();
