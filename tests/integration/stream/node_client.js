// Drives node-simperium 1.1.4 against the local server and prints one JSON report.
//
//   node node_client.js '{"ws": "ws://...", "http": "http://...", "app": "demo",
//                         "token": "...", "bucket": "notes", "shared": "<id>"}'
//
// Every step waits for an event with a deadline; a step that times out ends the run with
// its name in "failed" (exit status 1). The Python test reads the report and checks it.
'use strict';

const createClient = require('simperium').default;

const args = JSON.parse(process.argv[2]);
const report = { steps: [], heartbeats: 0 };
const STEP_MS = 10000;

function finish(code) {
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(code);
}

function within(name, promise) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), STEP_MS);
  });
  return Promise.race([promise, deadline]).then(
    (value) => { clearTimeout(timer); report.steps.push(name); return value; },
    (error) => { report.failed = name; report.error = String(error); finish(1); },
  );
}

function connect() {
  const client = createClient(args.app, args.token, { url: args.ws, heartbeatInterval: 1 });
  client.on('message:h', () => { report.heartbeats += 1; });
  client.on('unauthorized', () => { report.failed = 'auth'; finish(1); });
  const bucket = client.bucket(args.bucket);
  bucket.on('error', (error) => { (report.errors = report.errors || []).push(String(error)); });
  const indexed = new Promise((resolve) => bucket.once('index', resolve));
  return { client, bucket, indexed };
}

function acknowledged(bucket, id) {
  return new Promise((resolve) => {
    const listener = (ackId) => {
      if (ackId === id) { bucket.channel.removeListener('acknowledge', listener); resolve(); }
    };
    bucket.channel.on('acknowledge', listener);
  });
}

function heard(bucket, event, test) {
  return new Promise((resolve) => {
    const listener = (id, data) => {
      if (test(id, data)) { bucket.removeListener(event, listener); resolve(data); }
    };
    bucket.on(event, listener);
  });
}

async function http(method, path, body) {
  const response = await fetch(`${args.http}/1/${args.app}/${args.bucket}/${path}`, {
    method,
    headers: { 'X-Simperium-Token': args.token },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: response.status === 200 ? await response.text() : null };
}

async function settled(a, b, id, wanted) {
  // Both copies equal and holding both edits, polled until the deadline.
  for (;;) {
    const [one, two] = await Promise.all([a.get(id), b.get(id)]);
    const textA = one && one.data && one.data.text;
    const textB = two && two.data && two.data.text;
    if (textA === textB && textA === wanted) return textA;
    report.last = [textA, textB];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function main() {
  const a = connect();
  await within('index', a.indexed);
  const found = await a.bucket.find();
  report.indexed = found.map((o) => ({ id: o.id, data: o.data })).sort((x, y) => (x.id < y.id ? -1 : 1));

  const created = await a.bucket.add({ title: 'from node', n: 1 });
  report.created_id = created.id;
  await within('create acknowledged', acknowledged(a.bucket, created.id));
  report.after_create = await http('GET', `i/${created.id}`);

  await a.bucket.update(created.id, { title: 'updated by node', n: 2 });
  await within('update acknowledged', acknowledged(a.bucket, created.id));
  report.after_update = await http('GET', `i/${created.id}`);

  await a.bucket.remove(created.id);
  await within('remove acknowledged', acknowledged(a.bucket, created.id));
  report.after_remove = await http('GET', `i/${created.id}`);

  const remote = heard(a.bucket, 'update', (id) => id === 'from-http');
  report.http_write = await http('POST', 'i/from-http', { title: 'written over HTTP' });
  report.heard = await within('heard an HTTP write', remote);

  const gone = heard(a.bucket, 'remove', (id) => id === 'from-http');
  report.http_delete = await http('DELETE', 'i/from-http');
  await within('heard an HTTP delete', gone);

  const b = connect();
  await within('second client indexed', b.indexed);
  // Both edit the same text field in the same tick, before either hears of the other.
  const shared = args.shared;
  await Promise.all([
    a.bucket.update(shared, { text: 'The quick brown fox' }),
    b.bucket.update(shared, { text: 'The quick fox jumps' }),
  ]);
  report.converged = await within('converged', settled(a.bucket, b.bucket, shared, 'The quick brown fox jumps'));
  report.shared_over_http = await http('GET', `i/${shared}`);
  // node beats after a second without messages (heartbeatInterval 1) and drops the socket
  // if nothing answers within two: two answered beats in a row keep it open.
  await within('heartbeats answered', new Promise((resolve) => {
    const check = setInterval(() => { if (report.heartbeats >= 2) { clearInterval(check); resolve(); } }, 50);
  }));
  a.client.end();
  b.client.end();
  finish(report.errors ? 1 : 0);
}

main().catch((error) => { report.failed = 'exception'; report.error = String(error && error.stack); finish(1); });
