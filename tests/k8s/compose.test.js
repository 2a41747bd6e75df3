// docker-compose.yml, the Dockerfile and the Helm chart agree on settings, ports, health
// checks and security options, so the sandbox tries what Kubernetes runs.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');
const { root, chart, render } = require('./render');

const compose = YAML.parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true });
const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
const values = YAML.parse(fs.readFileSync(path.join(chart, 'values.yaml'), 'utf8'));
const chartMeta = YAML.parse(fs.readFileSync(path.join(chart, 'Chart.yaml'), 'utf8'));

// The runtime stage of the Dockerfile: from its FROM to the end.
const runtime = dockerfile.slice(dockerfile.search(/^FROM \S+ AS runtime$/m));
const services = ['twilio-block', 'twilio-block-1', 'twilio-block-2', 'twilio-block-3'].map((n) => [n, compose.services[n]]);
const objs = render({ files: ['bundled-redis.yaml'] });
const dep = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'rel-twilio-block');
const c = dep.spec.template.spec.containers[0];
const seconds = (s) => { const m = /^(\d+)s$/.exec(s); assert.ok(m, s); return Number(m[1]); };

test('the service runs from the same image in both', () => {
  assert.ok(runtime.startsWith('FROM'), 'the Dockerfile has a runtime stage');
  for (const [name, s] of services) {
    assert.equal(s.build.target, 'runtime', name);
    assert.equal(s.image, `${values.image.repository}:${chartMeta.appVersion}`, name);
  }
  assert.equal(compose.services.redis.image, `${values.redis.image.repository}:${chartMeta.appVersion}`);
});

test('every setting compose passes is one the chart passes the same way', () => {
  const chartEnv = new Set(c.env.map((e) => e.name));
  for (const [name, s] of services) {
    for (const key of Object.keys(s.environment)) {
      if (key === 'PORT') continue;
      if (key === 'REDIS_URL') {
        assert.ok(chartEnv.has('REDIS_URL'), `${name}: the chart sets REDIS_URL too (from a Secret)`);
        continue;
      }
      if (key === 'CURSOR_SECRET') {
        assert.ok('cursorSecret' in values, `${name}: the chart takes CURSOR_SECRET (from a Secret)`);
        continue;
      }
      if (key === 'CAMPAIGN_SECRET') {
        assert.ok('campaignSecret' in values, `${name}: the chart takes CAMPAIGN_SECRET (from a Secret)`);
        continue;
      }
      assert.ok(key in values.config, `${name}: ${key} is a chart setting (config.${key})`);
    }
  }
  // The compose replicas point at a Redis, as the chart does with redis.*.
  assert.match(compose.services['twilio-block-1'].environment.REDIS_URL, /^redis:\/\//);
  assert.ok(c.env.find((e) => e.name === 'REDIS_URL').valueFrom.secretKeyRef);
});

test('ports: the image, compose and the chart listen on the same one', () => {
  const expose = Number(/^EXPOSE (\d+)$/m.exec(runtime)[1]);
  const envPort = /^ENV PORT=(\d+)$/m.exec(runtime)[1];
  assert.equal(values.port, expose);
  assert.equal(c.ports[0].containerPort, expose);
  assert.equal(c.env.find((e) => e.name === 'PORT').value, envPort);
  for (const [name, s] of services) assert.equal(s.environment.PORT, envPort, name);
  assert.equal(compose.services['twilio-block'].ports[0].split(':').pop(), String(expose));
  // nginx of the scale profile reaches the replicas on it.
  const nginx = fs.readFileSync(path.join(root, 'deploy', 'nginx.conf'), 'utf8');
  for (const m of nginx.matchAll(/server twilio-block-\d+:(\d+);/g)) assert.equal(Number(m[1]), expose);
});

test('health checks: the image and the chart both ask GET /healthz on that port', () => {
  const hc = /^HEALTHCHECK [\s\S]*?CMD (\[.*\])$/m.exec(runtime);
  assert.ok(hc, 'the runtime image has a HEALTHCHECK');
  assert.match(hc[1], /GET \/healthz HTTP/);
  assert.match(hc[1], /\$\{PORT:-8080\}/);
  for (const p of [c.readinessProbe, c.livenessProbe]) assert.equal(p.httpGet.path, '/healthz');
  assert.match(compose.services['twilio-mock'].image, /mock/);
});

test('shutting down: both wait longer than SHUTDOWN_GRACE_MS before killing', () => {
  const graceS = Number(values.config.SHUTDOWN_GRACE_MS) / 1000;
  for (const [name, s] of services) assert.ok(seconds(s.stop_grace_period) > graceS, `${name} stop_grace_period`);
  assert.ok(dep.spec.template.spec.terminationGracePeriodSeconds > graceS + values.preStopSleepSeconds);
  assert.match(runtime, /^STOPSIGNAL SIGTERM$/m);
});

test('security: non-root as the same user, read-only root, all capabilities dropped, no new privileges', () => {
  const user = /^USER (\d+):(\d+)$/m.exec(runtime);
  assert.ok(user, 'the runtime image names a numeric user');
  assert.equal(dep.spec.template.spec.securityContext.runAsUser, Number(user[1]));
  assert.equal(dep.spec.template.spec.securityContext.runAsGroup, Number(user[2]));
  for (const [name, s] of services) {
    assert.equal(s.read_only, true, name);
    assert.deepEqual(s.cap_drop, ['ALL'], name);
    assert.ok(s.security_opt.includes('no-new-privileges:true'), name);
  }
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
});

test('Redis: noeviction and a password in both', () => {
  const cmd = compose.services.redis.command;
  assert.equal(cmd[cmd.indexOf('--maxmemory-policy') + 1], 'noeviction');
  assert.ok(cmd.includes('--requirepass'));
  const s = objs.find((o) => o.kind === 'Secret' && o.metadata.name === 'rel-twilio-block-redis');
  const conf = Buffer.from(s.data['redis.conf'], 'base64').toString();
  assert.match(conf, /^maxmemory-policy noeviction$/m);
  assert.match(conf, /^requirepass \S+$/m);
  assert.match(conf, /^save ""$/m);
  // compose's Redis keeps an append-only file for campaigns; the chart's when campaignSecret
  // is set (chart.test.js), and not for keys alone
  assert.match(conf, /^appendonly no$/m);
  assert.equal(cmd[cmd.indexOf('--appendonly') + 1], 'yes');
  assert.equal(cmd[cmd.indexOf('--appendfsync') + 1], 'always');
});
