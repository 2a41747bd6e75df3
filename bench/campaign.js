// bench/campaign.js: one campaign of RECIPIENTS (100,000) across 3 replicas sharing one
// redis-server (appendonly yes, appendfsync always), against a stand-in Twilio that answers in
// DELAY_MS (20) and counts every POST by To and by second; uploaded in 10 keyed chunks, mps
// MPS (1,000), one replica SIGKILLed once 30 % are sent. Prints a markdown table: whole-run
// time, the busiest 5-second window, the median sends a second, recipients sent twice,
// maybeSent, peak RSS per replica, Redis bytes per recipient after the run, and the CPU a
// recipient costs the replicas and Redis beside what a plain sendSms call costs (PLAIN_CALLS
// of them, 10,000, unkeyed and then keyed, on one replica against the same stand-in).
// Usage: node bench/campaign.js path/to/twilio-block   (SERVICE_ENV="VAR=value ..." adds settings)
'use strict';
const http = require('http');
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');
const { spawn, spawnSync } = require('child_process');

const bin = path.resolve(process.argv[2] || 'build-bench/twilio-block');
const N = Number(process.env.RECIPIENTS || 100000);
const CHUNKS = 10;
const MPS = Number(process.env.MPS || 1000);
const DELAY = Number(process.env.DELAY_MS || 20);
const KILL_AT = 0.3;
const SID = 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'campaign-bench-'));
const children = [];

function cleanup() {
  for (const c of children) try { c.kill('SIGKILL'); } catch (e) { /* gone */ }
  spawnSync('rm', ['-rf', work]);
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The stand-in.
const byTo = new Map();
const bySecond = new Map();
let total = 0;
function standin() {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const to = new URLSearchParams(body).get('To') || '';
      byTo.set(to, (byTo.get(to) || 0) + 1);
      const sec = Math.floor(Date.now() / 1000);
      bySecond.set(sec, (bySecond.get(sec) || 0) + 1);
      const n = ++total;
      setTimeout(() => {
        const answer = JSON.stringify({ sid: 'SM' + n.toString(16).padStart(32, '0'), status: 'queued' });
        res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(answer) });
        res.end(answer);
      }, DELAY);
    });
  });
  server.keepAliveTimeout = 60000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

const PLAIN = Number(process.env.PLAIN_CALLS || 10000);
const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

// The CPU time process pid has used, in µs (user + system, /proc/<pid>/stat fields 14 and 15).
function cpuUs(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 1e6 / HZ;
  } catch (e) { return NaN; }
}

function call(port, block, args, key) {
  const body = JSON.stringify({ accountSid: SID, accountToken: 'bench-token', ...args });
  const headers = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
  if (key) headers['Idempotency-Key'] = key;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `/api/twilio/${block}`, headers, agent }, (res) => {
      let s = '';
      res.on('data', (d) => { s += d; });
      res.on('end', () => {
        const doc = JSON.parse(s);
        if (doc.callback !== 'success') reject(new Error(`${block}: ${s.slice(0, 300)}`));
        else resolve(doc.contextWrites.to);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function waitFor(file, re, ms) {
  for (let t = 0; t < ms; t += 50) {
    const m = fs.existsSync(file) ? re.exec(fs.readFileSync(file, 'utf8')) : null;
    if (m) return m;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${re} in ${file}`);
}

function peakRss(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch (e) { return NaN; }
}

function redisCli(port, ...args) {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim();
}

// n sendSms calls at 50 at a time on one replica; returns its CPU and Redis's per call, in µs.
async function plainCalls(r, redisPid, n, keyed) {
  const cpu0 = cpuUs(r.child.pid), redis0 = cpuUs(redisPid);
  let next = 0;
  const one = async () => {
    for (let i = next++; i < n; i = next++) {
      await call(r.port, 'sendSms', { from: '+15005550006', to: `+1415${String(i).padStart(7, '0')}`, body: 'Hello, your order has shipped.' },
        keyed ? `plain-${process.pid}-${i}` : undefined);
    }
  };
  await Promise.all(Array.from({ length: 50 }, one));
  return { service: (cpuUs(r.child.pid) - cpu0) / n, redis: (cpuUs(redisPid) - redis0) / n };
}

async function main() {
  const upPort = await standin();
  const redisPort = await freePort();
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'yes', '--appendfsync', 'always', '--dir', work, '--logfile', path.join(work, 'redis.log')],
  { stdio: 'ignore' });
  children.push(redis);
  for (let i = 0; i < 100 && redisCli(redisPort, 'PING') !== 'PONG'; i++) await sleep(50);
  const extra = {};
  for (const w of (process.env.SERVICE_ENV || '').split(/\s+/).filter(Boolean)) {
    const [k, ...v] = w.split('=');
    extra[k] = v.join('=');
  }
  const replicas = [];
  for (let i = 0; i < 3; i++) {
    const log = path.join(work, `replica-${i}.log`);
    const out = fs.openSync(log, 'w');
    const child = spawn(bin, [], {
      env: { PATH: process.env.PATH, PORT: '0', BIND: '127.0.0.1', TWILIO_API_BASE: `http://127.0.0.1:${upPort}`,
        REDIS_URL: `redis://127.0.0.1:${redisPort}/0`, CAMPAIGN_SECRET: 'bench-passphrase', LOG_LEVEL: 'warn', ...extra },
      stdio: ['ignore', 'ignore', out],
    });
    children.push(child);
    replicas.push({ child, log, port: 0, peak: NaN });
  }
  for (const r of replicas) {
    // LOG_LEVEL=warn hides the start-up line: wait for the port to answer instead
    for (let t = 0; t < 10000 && !r.port; t += 50) {
      const out = spawnSync('ss', ['-ltnpH'], { encoding: 'utf8' }).stdout;
      const m = new RegExp(`127\\.0\\.0\\.1:(\\d+)\\s.*pid=${r.child.pid},`).exec(out);
      if (m) r.port = Number(m[1]);
      else await sleep(50);
    }
    if (!r.port) throw new Error(`replica did not start: ${fs.readFileSync(r.log, 'utf8')}`);
  }
  const usedBefore = Number(/used_memory:(\d+)/.exec(redisCli(redisPort, 'INFO', 'memory'))[1]);

  const t0 = Date.now();
  const created = await call(replicas[0].port, 'createCampaign',
    { from: '+15005550006', body: 'Hello, your order has shipped.', mps: MPS });
  const id = created.campaignId;
  const per = Math.ceil(N / CHUNKS);
  for (let c = 0; c < CHUNKS; c++) {
    const recipients = [];
    for (let i = c * per; i < Math.min(N, (c + 1) * per); i++) {
      // plain numbers: a chunk of 10,000 objects with variables is denser JSON than the
      // service's guard takes (about 8 bytes of memory per byte of text)
      recipients.push(`+1415${String(i).padStart(7, '0')}`);
    }
    const r = replicas[c % 3];
    const a = await call(r.port, 'addCampaignRecipients', { campaignId: id, recipients }, `${id}-chunk-${c}`);
    const again = await call(replicas[(c + 1) % 3].port, 'addCampaignRecipients', { campaignId: id, recipients }, `${id}-chunk-${c}`);
    if (again.added !== a.added) throw new Error('a repeated keyed chunk added more');
  }
  const tUploaded = Date.now();
  await call(replicas[1].port, 'startCampaign', { campaignId: id });
  const tStart = Date.now();
  const sentBefore = total;
  const cpuStart = replicas.map((r) => cpuUs(r.child.pid));
  const redisStart = cpuUs(redis.pid);
  const cpuEnd = [];
  let killed = false, g;
  for (;;) {
    g = await call(replicas[killed ? 1 : 0].port, 'getCampaign', { campaignId: id });
    if (!killed && g.counts.sent >= KILL_AT * N) {
      replicas[0].peak = peakRss(replicas[0].child.pid);
      cpuEnd[0] = cpuUs(replicas[0].child.pid);
      replicas[0].child.kill('SIGKILL');
      killed = true;
    }
    if (g.status === 'completed') break;
    if (Date.now() - tStart > 600000) throw new Error('no end after 10 minutes');
    await sleep(200);
  }
  const tEnd = Date.now();
  for (const r of replicas.slice(1)) r.peak = peakRss(r.child.pid);
  for (let i = 1; i < 3; i++) cpuEnd[i] = cpuUs(replicas[i].child.pid);
  const redisEnd = cpuUs(redis.pid);
  const sentInRun = total - sentBefore;
  const perSend = cpuEnd.reduce((a, c, i) => a + c - cpuStart[i], 0) / sentInRun;
  const redisPerSend = (redisEnd - redisStart) / sentInRun;

  await sleep(500);
  const usedAfter = Number(/used_memory:(\d+)/.exec(redisCli(redisPort, 'INFO', 'memory'))[1]);

  const secs = [...bySecond.keys()].sort((a, b) => a - b);
  const counts = [];
  for (let s = secs[0]; s <= secs[secs.length - 1]; s++) counts.push(bySecond.get(s) || 0);
  let busiest = 0;
  for (let i = 0; i + 5 <= counts.length; i++) busiest = Math.max(busiest, counts.slice(i, i + 5).reduce((x, y) => x + y, 0));
  const inner = counts.slice(1, -1).sort((a, b) => a - b);
  const median = inner[Math.floor(inner.length / 2)];
  let twice = 0;
  for (const v of byTo.values()) if (v > 1) twice++;
  const sentTotal = total;
  const commands = redisCli(redisPort, 'INFO', 'commandstats');
  // after the campaign's figures: these calls reach the stand-in too
  const unkeyed = await plainCalls(replicas[1], redis.pid, PLAIN, false);
  const keyed = await plainCalls(replicas[1], redis.pid, PLAIN, true);
  fs.writeFileSync(path.join(os.tmpdir(), 'campaign-bench-commandstats.txt'), commands);
  const rows = [
    ['recipients, chunks, mps, stand-in delay', `${N}, ${CHUNKS} keyed (each sent twice), ${MPS}, ${DELAY} ms`],
    ['upload (10 chunks + their repeats)', `${((tUploaded - t0) / 1000).toFixed(1)} s`],
    ['whole run, start to completed (goal <= 125 s)', `${((tEnd - tStart) / 1000).toFixed(1)} s`],
    ['busiest 5-second window (goal <= 5,100)', `${busiest}`],
    ['median sends a second (goal >= 900)', `${median}`],
    ['requests to the stand-in', `${sentTotal}`],
    ['recipients sent twice (goal 0)', `${twice}`],
    ['counts', JSON.stringify(g.counts)],
    ['maybeSent (goal <= 100)', `${g.counts.maybeSent}`],
    ['peak RSS per replica, MB (goal <= 96; the first was killed at 30 %)', replicas.map((r) => r.peak.toFixed(1)).join(', ')],
    ['Redis bytes per recipient after the run (goal <= 400)', `${((usedAfter - usedBefore) / N).toFixed(0)}`],
    ['CPU per recipient sent, µs: the replicas, Redis (start to completed)', `${perSend.toFixed(0)}, ${redisPerSend.toFixed(0)}`],
    [`CPU per plain sendSms call, µs: the replica, Redis (${PLAIN} calls, 50 at a time, unkeyed; then keyed)`,
      `${unkeyed.service.toFixed(0)}, ${unkeyed.redis.toFixed(0)}; keyed ${keyed.service.toFixed(0)}, ${keyed.redis.toFixed(0)}`],
  ];
  console.log('| measure | value |\n|---|---|');
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
  process.exit(0);
}

main().catch((e) => {
  console.error(`campaign bench: ${e.stack || e}`);
  process.exit(1);
});
