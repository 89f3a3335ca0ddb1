// The API half of .ci/docker-image, against a running container (plain Node 20, no dependencies):
//   deploy URL PASSWORD KEYFILE         sign in as admin, make an API key, import and deploy the demo, see it complete
//   after-restart URL PASSWORD KEYFILE  the key, the flow and the demo's committed position survived the restart
import { readFileSync, writeFileSync } from 'node:fs';

const [mode, base, password, keyFile] = process.argv.slice(2);
const fail = (msg) => {
  console.error(`docker smoke: ${msg}`);
  process.exit(1);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function call(method, path, { key, body, type = 'application/json', headers = {} } = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': type } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

async function healthy() {
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      const r = await call('GET', '/api/health');
      if (r.status === 200 && r.json.ok) return r.json;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) fail('GET /api/health did not answer within 90 s');
    await sleep(250);
  }
}

async function finished(key, flow) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const s = await call('GET', `/api/flows/${flow}/status`, { key });
    if (s.status !== 200) fail(`GET status: ${s.status} ${JSON.stringify(s.json)}`);
    if (['completed', 'failed', 'stopped'].includes(s.json.status)) return s.json;
    if (Date.now() > deadline) fail(`the demo is still ${s.json.status} after 120 s`);
    await sleep(250);
  }
}

const health = await healthy();
console.log(`health: ${JSON.stringify(health)}`);

if (mode === 'deploy') {
  // a browser-less sign-in: the session's cookie and CSRF token, then an API key for the rest
  const signin = await fetch(`${base}/api/auth/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'admin', password }),
  });
  if (signin.status !== 200) fail(`sign-in with SLUICE_ADMIN_PASSWORD: ${signin.status} ${await signin.text()}`);
  const session = await signin.json();
  const cookie = signin.headers.get('set-cookie').split(';')[0];
  const made = await call('POST', '/api/api-keys', { body: { label: 'ci' }, headers: { cookie, 'x-csrf-token': session.csrfToken } });
  if (made.status !== 201) fail(`POST /api/api-keys: ${made.status} ${JSON.stringify(made.json)}`);
  writeFileSync(keyFile, made.json.key);
  const key = made.json.key;

  // the server adds the demo on its first start; import it when it did not
  let flow = 'orders-demo';
  if ((await call('GET', `/api/flows/${flow}`, { key })).status === 404) {
    const text = readFileSync(new URL('../examples/orders-demo.yaml', import.meta.url), 'utf8');
    const imported = await call('POST', '/api/flows/import', { key, body: { text, format: 'yaml' } });
    if (imported.status !== 201) fail(`import of the demo: ${imported.status} ${JSON.stringify(imported.json)}`);
    flow = imported.json.id;
  }
  const deployed = await call('POST', `/api/flows/${flow}/deploy`, { key, body: {} });
  if (deployed.status !== 202) fail(`deploy: ${deployed.status} ${JSON.stringify(deployed.json)}`);
  const s = await finished(key, flow);
  if (s.status !== 'completed') fail(`the demo ended ${s.status}: ${s.error ?? ''}`);
  const generated = s.nodes.orders?.out;
  if (generated !== 5000) fail(`the demo generated ${generated} orders, not 5000`);
  console.log(`demo deployed through the API: completed, nodes ${JSON.stringify(Object.fromEntries(Object.entries(s.nodes).map(([k, v]) => [k, v.out])))}`);
} else if (mode === 'after-restart') {
  const key = readFileSync(keyFile, 'utf8');
  const flows = await call('GET', '/api/flows', { key });
  if (flows.status !== 200) fail(`the API key made before the restart: GET /api/flows → ${flows.status}`);
  const demo = flows.json.find((f) => f.id === 'orders-demo');
  if (!demo) fail(`the demo flow is gone after the restart: ${JSON.stringify(flows.json)}`);
  // the committed positions survived: deployed again, the demo resumes at its end and generates nothing new
  const deployed = await call('POST', '/api/flows/orders-demo/deploy', { key, body: {} });
  if (deployed.status !== 202) fail(`deploy after the restart: ${deployed.status} ${JSON.stringify(deployed.json)}`);
  const s = await finished(key, 'orders-demo');
  if (s.status !== 'completed') fail(`after the restart the demo ended ${s.status}: ${s.error ?? ''}`);
  if (s.nodes.orders?.out !== 0) fail(`after the restart the demo generated ${s.nodes.orders?.out} orders again: its position was not kept`);
  console.log(`after the restart: the key works, the demo is version ${demo.version}, deployed again it resumed at its end (0 new orders)`);
} else fail(`unknown mode ${mode}`);
