// Runs every sh example of docs/triggers.md against the service (argv[2]) pointed at Prism
// (PRISM_URL, the sandbox's mock; run through contract/run.sh), after the doc's sandbox
// exports: every answer must be a success, and where a json block follows an example it must
// be exactly what the example answered.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn, execFileSync } = require('child_process');

const bin = process.argv[2];
const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'triggers.md'), 'utf8');
const prism = process.env.PRISM_URL;
if (!bin || !prism) {
  console.error('usage: PRISM_URL=... node triggers_doc.js path/to/twilio-block');
  process.exit(2);
}

// The fenced blocks in order, each with its language.
const blocks = [];
const fence = /^```(\w*)\n([\s\S]*?)^```$/gm;
for (let m; (m = fence.exec(doc));) {
  // an example marked as examples.js reads it: <!-- example: expect error CODE ... -->
  const before = doc.slice(0, m.index).trimEnd().split('\n').pop();
  const want = /^<!-- example: expect error ([A-Z_]+)/.exec(before);
  blocks.push({ lang: m[1], text: m[2], error: want ? want[1] : null });
}

const service = spawn(bin, [], {
  env: Object.assign({}, process.env,
    { PORT: '0', BIND: '127.0.0.1', TWILIO_API_BASE: prism, RETRY_MAX: '0' }),
  stdio: ['ignore', 'ignore', 'pipe'],
});
let log = '';
service.stderr.on('data', (d) => { log += d; });
const fail = (msg) => {
  console.error(`triggers_doc: ${msg}`);
  service.kill();
  process.exit(1);
};

function run(base) {
  const exports = blocks.find((b) => b.lang === 'sh' && /^export /m.test(b.text) &&
    !/curl/.test(b.text));
  if (!exports) fail('no sandbox exports in docs/triggers.md');
  let examples = 0;
  blocks.forEach((b, i) => {
    if (b.lang !== 'sh' || !/curl/.test(b.text)) return;
    examples++;
    const script = exports.text + b.text.replace(/http:\/\/localhost:8080/g, base);
    const out = execFileSync('bash', ['-euo', 'pipefail', '-c', script], { encoding: 'utf8' });
    const answers = out.split('\n').filter((l) => l.trim());
    if (!answers.length) fail(`example ${examples} answered nothing`);
    for (const a of answers) {
      const env = JSON.parse(a);
      const ok = b.error ? env.callback === 'error' && env.contextWrites.to.status_code === b.error
        : env.callback === 'success';
      if (!ok) fail(`example ${examples} failed: ${a}`);
    }
    const next = blocks[i + 1];
    if (next && next.lang === 'json') {
      // the answers one a line, as the service writes them (a block may break one for reading)
      const want = next.text.trim().split(/\n(?=\{"callback")/).map((t) => JSON.stringify(JSON.parse(t))).join('\n');
      if (answers.join('\n') !== want) {
        fail(`example ${examples} answered\n${answers.join('\n')}\nnot\n${want}`);
      }
    }
  });
  if (examples < 6) fail(`only ${examples} curl examples`);
  service.kill();
  console.log(`triggers_doc: ${examples} examples of docs/triggers.md ran against the sandbox`);
}

const started = Date.now();
(function wait() {
  const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
  if (!m) {
    if (Date.now() - started > 10000) fail(`the service did not start: ${log}`);
    setTimeout(wait, 50);
    return;
  }
  run(`http://127.0.0.1:${m[1]}`);
})();
