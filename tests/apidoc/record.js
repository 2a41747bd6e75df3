// Records each block's success answer in the sandbox, for the OpenAPI document's success
// examples: the service (argv[2]) pointed at the sandbox's mock (PRISM_URL; run through
// contract/run.sh with CONTRACT_MOCK=sandbox), called with each Postman request's body.
//   record.js <twilio-block>          writes blocks/common/answers.json
//   record.js <twilio-block> --check  fails when that file is not what the sandbox answers
// A block whose first call cannot succeed alone (a campaign's, which needs one created first)
// gets no success example. A poll's cursor depends on the time (and a campaign's id is new), so it is recorded as it came and compared as any string;
// the mock's address (in a media URL) is written as https://api.twilio.com.
'use strict';
const fs = require('fs');
const path = require('path');
const http = require('http');
const { spawn, spawnSync } = require('child_process');

const bin = process.argv[2];
const check = process.argv.includes('--check');
const prism = process.env.PRISM_URL;
const file = path.join(__dirname, '..', '..', 'blocks', 'common', 'answers.json');
if (!bin || !prism) {
  console.error('record: usage: PRISM_URL=... node record.js <twilio-block> [--check]');
  process.exit(2);
}

function post(port, name, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `/api/twilio/${name}`,
      headers: { 'Content-Type': 'application/json' } }, (r) => {
      let s = '';
      r.on('data', (c) => (s += c));
      r.on('end', () => resolve(JSON.parse(s)));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// The mock's address in an answer (a media URL) reads as Twilio's.
function asTwilio(v) {
  if (typeof v === 'string') return v.split(prism).join('https://api.twilio.com');
  if (Array.isArray(v)) return v.map(asTwilio);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asTwilio(x)]));
  return v;
}

function masked(v, key) {
  // made anew by each call: a poll's cursor (from the time), a campaign's id
  if ((key === 'cursor' || key === 'campaignId') && typeof v === 'string') return `<${key}>`;
  if (Array.isArray(v)) return v.map((x) => masked(x));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, masked(x, k)]));
  return v;
}

async function main() {
  const collection = JSON.parse(spawnSync(bin, ['--postman'], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout);
  const vars = Object.fromEntries(collection.variable.map((v) => [v.key, v.value]));
  const child = spawn(bin, [], { env: { ...process.env, PORT: '0', BIND: '127.0.0.1', TWILIO_API_BASE: prism, RETRY_MAX: '0' },
    stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => reject(new Error(`the service exited: ${log}`)));
  });
  const answers = {};
  const problems = [];
  try {
    for (const item of collection.item) {
      const body = item.request.body.raw.replace(/\{\{(\w+)\}\}/g, (_, k) => vars[k]);
      const env = await post(port, item.name, body);
      // a block whose first call needs state of its own (a campaign created first) has none
      if (env.callback !== 'success') problems.push(`${item.name}: ${env.contextWrites.to.status_code}`);
      else answers[item.name] = asTwilio(env.contextWrites.to);
    }
  } finally {
    child.kill('SIGTERM');
  }
  if (problems.length) console.log(`record: no success example for ${problems.join(', ')}`);
  const text = JSON.stringify(answers, null, 2) + '\n';
  if (!check) {
    fs.writeFileSync(file, text);
    console.log(`record: ${Object.keys(answers).length} answers written to ${file}`);
    return;
  }
  const have = JSON.parse(fs.readFileSync(file, 'utf8'));
  const a = JSON.stringify(masked(have)), b = JSON.stringify(masked(answers));
  if (a !== b) {
    console.error('record: blocks/common/answers.json is not what the sandbox answers; regenerate it with:\n' +
      '  CONTRACT_MOCK=sandbox bash tests/contract/run.sh node tests/apidoc/record.js build/twilio-block\n' +
      '  cmake --build build --target apidocs');
    for (const k of Object.keys(answers)) {
      if (JSON.stringify(masked(have[k])) !== JSON.stringify(masked(answers[k]))) console.error(`  differs: ${k}`);
    }
    process.exit(1);
  }
  // docs/openapi.json: each block's first example (the one a mock answers with) is its success
  const doc = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'openapi.json'), 'utf8'));
  for (const name of Object.keys(answers)) {
    if (!doc.paths[`/api/twilio/${name}`]) continue; /* a block newer than the committed copy */
    const op = doc.paths[`/api/twilio/${name}`].post;
    const ex = op.responses['200'].content['application/json'].examples;
    const first = Object.keys(ex)[0];
    if (first !== 'success' || ex[first].value.callback !== 'success' ||
        JSON.stringify(ex[first].value.contextWrites.to) !== JSON.stringify(have[name])) {
      console.error(`record: docs/openapi.json ${name}: the first example is not the recorded success`);
      process.exit(1);
    }
  }
  console.log(`record: the ${Object.keys(answers).length} recorded answers are what the sandbox answers, ` +
    'and each is its block\'s first example in docs/openapi.json');
}
main().catch((e) => { console.error(`record: ${e.stack || e}`); process.exit(1); });
