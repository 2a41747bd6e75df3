// Runs every example in README.md and docs/*.md that calls the service, as written, against the
// sandbox: the service ($2, the binary) pointed at the Prism mock that contract/run.sh starts
// (PRISM_URL). Usage: bash tests/contract/run.sh node tests/apidoc/examples.js <twilio-block>
//
// An example is a fenced sh/bash/shell block holding http://localhost:8080 (rewritten to the
// service's free port). The comment on the line before its fence, if any, says what it shows:
//   <!-- example: setup -->     run (it sets shell variables) before every example, in file order
//   <!-- example: skip REASON -->  not run (real Twilio only, or it starts the service itself)
//   <!-- example: expect ITEM, ITEM, ... -->  one ITEM per answer, in order:
//        success                  "callback": "success"
//        error CODE ["TEXT"]      "callback": "error" with that status_code (and TEXT in its
//                                 status_msg or one of its reasons)
//        json                     any JSON without a callback (/healthz, the metadata)
//        result                   a JSON-RPC result that is no tool error (/mcp)
//        toolerror "TEXT"         a /mcp tool result with isError: true, TEXT in its text
//        ... shown                the answer is the ```json block after the example, where "..."
//                                 in a string stands for any text, a SID (AC and 32 hex digits)
//                                 for any SID of that kind, a date for any date, and the
//                                 mock's URL reads as https://api.twilio.com
// Without "expect", every answer must be "callback": "success". Each example must print at least
// one answer; the answers are the JSON values curl printed, one after the other.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn, spawnSync } = require('child_process');

const bin = process.argv[2];
const prism = process.env.PRISM_URL;
if (!bin || !prism) {
  console.error('examples: usage: PRISM_URL=... node examples.js <twilio-block> (run it through contract/run.sh)');
  process.exit(2);
}
const root = path.join(__dirname, '..', '..');
const files = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort()
  .map((f) => path.join('docs', f))];

function parseExamples(file) {
  const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(sh|bash|shell)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    let k = start - 1;
    while (k >= 0 && lines[k].trim() === '') k--;
    const marker = k >= 0 ? /^<!-- example: (.*?) -->$/.exec(lines[k].trim()) : null;
    let n = i + 1;
    while (n < lines.length && lines[n].trim() === '') n++;
    let shown = null;
    if (n < lines.length && /^```json\s*$/.test(lines[n])) {
      const json = [];
      for (n++; n < lines.length && !/^```\s*$/.test(lines[n]); n++) json.push(lines[n]);
      shown = json.join('\n');
    }
    out.push({ file, line: start + 1, text: body.join('\n') + '\n', marker: marker ? marker[1].trim() : null, shown });
  }
  return out;
}

const SID = /^[A-Z]{2}[0-9a-f]{32}$/;
const DATE = /^([A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))$/;

// Where the answer differs from the one the docs show (null: nowhere).
function differs(doc, got, where) {
  if (typeof doc === 'string') {
    if (typeof got !== 'string') return `${where}: ${JSON.stringify(got)}, the docs say ${JSON.stringify(doc)}`;
    const g = got.split(prism).join('https://api.twilio.com');
    let ok;
    if (doc.includes('...')) {
      const re = doc.split('...').map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*');
      ok = new RegExp(`^${re}$`).test(g);
    } else if (SID.test(doc)) ok = SID.test(g) && g.slice(0, 2) === doc.slice(0, 2);
    else if (DATE.test(doc)) ok = DATE.test(g);
    else ok = g === doc;
    return ok ? null : `${where}: ${JSON.stringify(got)}, the docs say ${JSON.stringify(doc)}`;
  }
  if (Array.isArray(doc)) {
    if (!Array.isArray(got) || got.length !== doc.length) return `${where}: ${JSON.stringify(got)}, the docs say ${JSON.stringify(doc)}`;
    for (let i = 0; i < doc.length; i++) {
      const d = differs(doc[i], got[i], `${where}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (doc && typeof doc === 'object') {
    if (!got || typeof got !== 'object' || Array.isArray(got)) return `${where}: ${JSON.stringify(got)}, the docs show an object`;
    const dk = Object.keys(doc).sort(), gk = Object.keys(got).sort();
    if (dk.join() !== gk.join()) return `${where}: the answer has ${gk.join(', ')}; the docs show ${dk.join(', ')}`;
    for (const k of dk) {
      const d = differs(doc[k], got[k], `${where}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return doc === got ? null : `${where}: ${JSON.stringify(got)}, the docs say ${JSON.stringify(doc)}`;
}

function parseExpect(marker) {
  return marker.replace(/^expect\s+/, '').split(/\s*,\s*(?=success|error|json|result|toolerror)/).map((item) => {
    const m = /^(success|json|error|result|toolerror)(?:\s+([A-Z_]+))?(?:\s+"(.*)")?(\s+shown)?$/.exec(item.trim());
    if (!m || (m[1] === 'error' && !m[2])) throw new Error(`bad expect item: ${item}`);
    return { kind: m[1], code: m[2], text: m[3], shown: !!m[4] };
  });
}

// The JSON values in text, one after the other (curl prints answers without separators).
function answers(text) {
  const out = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (i >= text.length) break;
    let depth = 0, inString = false, j = i;
    for (; j < text.length; j++) {
      const c = text[j];
      if (inString) {
        if (c === '\\') j++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) break;
      }
    }
    out.push(JSON.parse(text.slice(i, j + 1)));
    i = j + 1;
  }
  return out;
}

function check(answer, want) {
  const to = answer && answer.contextWrites && answer.contextWrites.to;
  if (want.kind === 'json') return answer.callback === undefined ? null : `an envelope (${answer.callback})`;
  if (want.kind === 'result' || want.kind === 'toolerror') {
    const r = answer && answer.jsonrpc === '2.0' ? answer.result : undefined;
    if (!r) return `not a JSON-RPC result: ${JSON.stringify(answer).slice(0, 200)}`;
    const text = ((r.content || [])[0] || {}).text || '';
    if (want.kind === 'result') return r.isError === true ? `a tool error: ${text.slice(0, 200)}` : null;
    if (r.isError !== true) return 'not a tool error';
    return want.text && !text.includes(want.text) ? `the text lacks "${want.text}": ${text.slice(0, 300)}` : null;
  }
  if (want.kind === 'success') {
    return answer.callback === 'success' ? null
      : `not success: ${to ? `${to.status_code}: ${to.status_msg}` : JSON.stringify(answer).slice(0, 200)}`;
  }
  if (answer.callback !== 'error' || !to || to.status_code !== want.code) {
    return `want error ${want.code}, got ${answer.callback} ${to && to.status_code}`;
  }
  const said = [to.status_msg, ...Object.values(to.reasons || {})].map(String);
  if (want.text && !said.some((t) => t.includes(want.text))) {
    return `neither status_msg nor a reason has "${want.text}": ${JSON.stringify(to)}`;
  }
  return null;
}

async function startService() {
  const child = spawn(bin, [], {
    env: { ...process.env, PORT: '0', BIND: '127.0.0.1', TWILIO_API_BASE: prism, RETRY_MAX: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => reject(new Error(`the service exited: ${log}`)));
  });
  return { child, port };
}

async function main() {
  const examples = files.flatMap(parseExamples);
  const setup = examples.filter((e) => e.marker === 'setup').map((e) => e.text).join('');
  const calls = examples.filter((e) => e.text.includes('localhost:8080'));
  const { child, port } = await startService();
  const env = { PATH: process.env.PATH, HOME: process.env.HOME || '/tmp', LANG: 'C.UTF-8' };
  let failed = 0, ran = 0, skipped = 0;
  try {
    for (const e of calls) {
      const where = `${e.file}:${e.line}`;
      if (e.marker === 'setup') continue;
      if (e.marker && e.marker.startsWith('skip')) {
        skipped++;
        continue;
      }
      if (e.marker && !e.marker.startsWith('expect')) throw new Error(`${where}: unknown marker "${e.marker}"`);
      const script = 'set -euo pipefail\n' + setup + e.text.replace(/localhost:8080/g, `127.0.0.1:${port}`);
      const r = spawnSync('bash', ['-c', script], { env, encoding: 'utf8', timeout: 60000 });
      ran++;
      let problems = [];
      let got = [];
      if (r.status !== 0) problems.push(`exit status ${r.status}: ${r.stderr.trim()}`);
      try {
        got = answers(r.stdout);
      } catch (err) {
        problems.push(`output is not JSON answers (${err.message}): ${r.stdout.slice(0, 300)}`);
      }
      if (got.length === 0) problems.push('no answer');
      const wants = e.marker ? parseExpect(e.marker) : got.map(() => ({ kind: 'success' }));
      if (got.length && wants.length !== got.length) problems.push(`${got.length} answers, the marker says ${wants.length}`);
      got.forEach((a, k) => {
        const p = wants[k] && check(a, wants[k]);
        if (p) problems.push(`answer ${k + 1}: ${p}`);
        if (!p && wants[k] && wants[k].shown) {
          if (!e.shown) problems.push(`answer ${k + 1}: "shown", but no \`\`\`json block follows`);
          else {
            const d = differs(JSON.parse(e.shown), a, 'answer');
            if (d) problems.push(`answer ${k + 1} is not the one shown: ${d}`);
          }
        }
      });
      if (problems.length) {
        failed++;
        console.error(`FAIL ${where}:\n  ${problems.join('\n  ')}`);
      } else {
        console.log(`ok   ${where} (${got.length} answer${got.length > 1 ? 's' : ''})`);
      }
    }
  } finally {
    child.kill('SIGTERM');
  }
  console.log(`examples: ${ran} run, ${failed} failed, ${skipped} skipped (marked), ${setup ? 'with' : 'without'} setup`);
  if (ran < 20) {
    console.error('examples: fewer than 20 examples found: the extraction is broken');
    process.exit(1);
  }
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  console.error(`examples: ${err.stack || err}`);
  process.exit(1);
});
