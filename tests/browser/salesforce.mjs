// Inside Salesforce: the panel's URL carries ?sfdcIframeOrigin=<org origin>. When that origin
// is in [cti] allowed_origins, the shim loads Salesforce's own Open CTI library from it and
// steps aside; when it is not, nothing is loaded from it and the shim works as usual.
//
// Environment: BASE_URL (the server, whose allowed_origins lists SF_ORIGIN), SF_ORIGIN (a
// stand-in serving /support/api/60.0/lightning/opencti_min.js, which defines
// window.sforce.opencti = {standIn: true, …}), OTHER_ORIGIN (not allowed), CHROMIUM.
// Prints `RESULT {json}` on success.

import { launchChromium } from './lib.mjs';

const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const SF_ORIGIN = process.env.SF_ORIGIN;
const OTHER_ORIGIN = process.env.OTHER_ORIGIN || 'http://127.0.0.1:9';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const fail = (msg) => {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
};

const browser = await launchChromium(CHROMIUM, { media: false });
try {
  const page = await browser.newPage();
  const probe = () =>
    page.evaluate(() => ({
      standIn: !!(window.sforce && window.sforce.opencti && window.sforce.opencti.standIn),
      shim: window.SwitchyardOpenCti ? window.SwitchyardOpenCti.shim : null,
      status: window.SwitchyardOpenCti ? window.SwitchyardOpenCti.status : null,
    }));
  await page.goto(`${BASE_URL}/agent?sfdcIframeOrigin=${encodeURIComponent(SF_ORIGIN)}&mode=Lightning`);
  await page.waitForLoadState('load');
  const inside = await probe();
  if (!inside.standIn || inside.shim !== false || inside.status !== 'salesforce') {
    fail(`with an allowed sfdcIframeOrigin, Salesforce's library should run and the shim step aside: ${JSON.stringify(inside)}`);
  }
  await page.goto(`${BASE_URL}/agent?sfdcIframeOrigin=${encodeURIComponent(OTHER_ORIGIN)}`);
  await page.waitForLoadState('load');
  const other = await probe();
  if (other.standIn || other.shim !== true) {
    fail(`an origin that is not allowed must load nothing: ${JSON.stringify(other)}`);
  }
  console.log(`RESULT ${JSON.stringify({ inside, other })}`);
} finally {
  await browser.close();
}
