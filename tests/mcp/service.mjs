// Starts a twilio-block binary on a free loopback port with extra environment and resolves
// {child, port, url} once its start-up line names the port; stop(child) ends it.
import { spawn } from 'node:child_process';
import http from 'node:http';

export function startService(bin, env = {}) {
  const child = spawn(bin, [], {
    env: { ...process.env, PORT: '0', BIND: '127.0.0.1', RETRY_MAX: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) resolve({ child, port: Number(m[1]), url: `http://127.0.0.1:${m[1]}`, log: () => log });
    });
    child.on('exit', (code) => reject(new Error(`the service exited (${code}): ${log}`)));
  });
}

// Stops the service with SIGTERM; it must exit 0 (under the sanitizers a leak makes it fail).
export function stop(child) {
  return new Promise((resolve, reject) => {
    const done = (code, signal) => (code === 0 ? resolve()
      : reject(new Error(`the service exited with ${code === null ? signal : code}`)));
    if (child.exitCode !== null || child.signalCode !== null) return done(child.exitCode, child.signalCode);
    child.on('exit', done);
    child.kill('SIGTERM');
  });
}

// A Twilio stand-in that answers every request with a created message and counts the POSTs.
export function countingStandIn() {
  const seen = { posts: 0, requests: [] };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (req.method === 'POST') seen.posts++;
      seen.requests.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ sid: `SM${String(seen.posts).padStart(32, '0')}`, status: 'queued', body: 'Hi' }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    seen, url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)),
  })));
}

export function check(ok, what) {
  if (!ok) throw new Error(what);
}
