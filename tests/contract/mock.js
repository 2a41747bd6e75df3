// The sandbox's mock of Twilio: one address (--host, --port) in front of two Prisms on
// Twilio's official specs, so that every block the docs show works through one TWILIO_API_BASE.
//   node contract/mock.js --host 127.0.0.1 --port 4010
// - Messaging v1 gets a Prism of its own, as the trigger contract test does: Conversations v1
//   and Messaging v1 both have /v1/Services/{Sid}. A Messaging Service's requests
//   (/v1/Services/MG...) go to it; everything else to the Prism of spec.js's default set.
// - Lists end: Prism answers a list with its example page, whose next_page_uri (meta.next_page_url
//   in v1) never ends, so a poll would read 400 copies of it. The first page's link is dropped:
//   a poll delivers the example's items once (those after its since) and nothing after them.
// Ctrl-C or SIGTERM stops both Prisms.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const host = option('host', '127.0.0.1');
const port = Number(option('port', process.env.PRISM_PORT || 4010));
const prism = path.join(__dirname, '..', 'node_modules', '.bin', 'prism');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-mock-'));
const children = [];

function stop(code) {
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(code);
}
process.on('SIGINT', () => stop(130));
process.on('SIGTERM', () => stop(143));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

async function startPrism(name, specs) {
  const file = path.join(work, `${name}.json`);
  execFileSync(process.execPath, [path.join(__dirname, 'spec.js'), file], {
    env: Object.assign({}, process.env, specs ? { CONTRACT_SPECS: specs } : { CONTRACT_SPECS: '' }),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // The port is free when picked, not when Prism binds it: another test may take it first.
  // Prism then exits, and is started again on another port. Ready is its "listening" line,
  // not an answer on the port, which could be the other test's.
  for (let attempt = 1; attempt <= 5; attempt++) {
    const p = await freePort();
    const logPath = path.join(work, `${name}.log`);
    const log = fs.openSync(logPath, 'w');
    const child = spawn(prism, ['mock', '-h', '127.0.0.1', '-p', String(p), file],
      { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    children.push(child);
    let ready = false;
    let exited = false;
    child.on('exit', (code) => {
      exited = true;
      if (ready && !stopping) {
        process.stderr.write(fs.readFileSync(logPath, 'utf8'));
        console.error(`mock: Prism (${name}) exited with ${code}`);
        stop(1);
      }
    });
    for (let i = 0; i < 480 && !exited; i++) {
      if (fs.readFileSync(logPath, 'utf8').includes('is listening on')) {
        ready = true;
        return p;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    if (!exited)
      throw new Error(`Prism (${name}) did not start`);
    process.stderr.write(`mock: Prism (${name}) could not start on ${p}; trying another port\n`);
  }
  throw new Error(`Prism (${name}) did not start on any of 5 ports`);
}
let stopping = false;
process.on('exit', () => { stopping = true; });

// A list page's next link dropped, so the list ends with it.
function endList(body) {
  let page;
  try { page = JSON.parse(body); } catch (e) { return null; }
  if (!page || typeof page !== 'object') return null;
  let changed = false;
  if (typeof page.next_page_uri === 'string') { page.next_page_uri = null; changed = true; }
  if (page.meta && typeof page.meta.next_page_url === 'string') {
    page.meta.next_page_url = null;
    changed = true;
  }
  return changed ? JSON.stringify(page) : null;
}

async function main() {
  const [main, messaging] = await Promise.all([
    startPrism('twilio', null),
    startPrism('messaging', 'twilio_messaging_v1.json'),
  ]);
  const server = http.createServer((req, res) => {
    const target = /^\/v1\/Services\/MG/.test(req.url) ? messaging : main;
    const up = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url,
      headers: req.headers }, (ur) => {
      const chunks = [];
      ur.on('data', (c) => chunks.push(c));
      ur.on('end', () => {
        let body = Buffer.concat(chunks);
        const headers = Object.assign({}, ur.headers);
        if (req.method === 'GET' && /json/.test(headers['content-type'] || '')) {
          const ended = endList(body.toString('utf8'));
          if (ended !== null) body = Buffer.from(ended);
        }
        delete headers['transfer-encoding'];
        headers['content-length'] = String(body.length);
        res.writeHead(ur.statusCode, headers);
        res.end(body);
      });
    });
    up.on('error', (e) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`mock: ${e.message}\n`);
    });
    req.pipe(up);
  });
  server.on('error', (e) => {
    console.error(`mock: cannot listen on ${host}:${port}: ${e.message} (is it in use? set MOCK_PORT)`);
    stop(1);
  });
  server.listen(port, host, () => {
    console.log(`mock: Twilio's specs answer on http://${host}:${port} (Messaging v1 on its own Prism)`);
  });
}
main().catch((e) => { console.error(`mock: ${e.message}`); stop(1); });
