// deploy/helm/twilio-block checked offline: helm lint --strict, helm template with several
// values files, every object against Kubernetes' schemas, and issue 19's checklist.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');
const { root, chart, render, refuse, lint, notes, validate } = require('./render');

const valuesFiles = fs.readdirSync(path.join(__dirname, 'values')).filter((f) => f.endsWith('.yaml')).sort();
const defaults = YAML.parse(fs.readFileSync(path.join(chart, 'values.yaml'), 'utf8'));

const one = (objs, kind, name) => {
  const found = objs.filter((o) => o.kind === kind && (!name || o.metadata.name === name));
  assert.equal(found.length, 1, `one ${kind}${name ? ' ' + name : ''}, found ${found.length}`);
  return found[0];
};
const none = (objs, kind) => assert.equal(objs.filter((o) => o.kind === kind).length, 0, `no ${kind}`);
const app = (objs) => one(objs, 'Deployment', 'rel-twilio-block');
const container = (objs) => app(objs).spec.template.spec.containers[0];
const env = (objs, name) => container(objs).env.find((e) => e.name === name);
const secret = (objs, name) => one(objs, 'Secret', name);
const decode = (s, key) => Buffer.from(s.data[key], 'base64').toString('utf8');

// The settings table of docs/configuration.md: every variable the service reads.
const settings = fs.readFileSync(path.join(root, 'docs', 'configuration.md'), 'utf8')
  .split('\n').map((l) => /^\| `([A-Z][A-Z0-9_]*)` \| `--/.exec(l)).filter(Boolean).map((m) => m[1]);

// The table of docs/operations.md, "Kubernetes": memory limit -> THREADS.
function threadsTable() {
  const ops = fs.readFileSync(path.join(root, 'docs', 'operations.md'), 'utf8');
  const rows = {};
  for (const m of ops.matchAll(/^\| `(\d+Mi)`[^|]*\| (\d+Mi) \| `(\d+)`/gm)) rows[m[1]] = { request: m[2], threads: m[3] };
  return rows;
}

test('helm lint --strict passes with the defaults and with every values file', () => {
  for (const files of [[], ...valuesFiles.map((f) => [f])]) {
    const r = lint({ files });
    assert.equal(r.status, 0, `helm lint ${files.join(' ')}: ${r.stdout}${r.stderr}`);
  }
});

test('every rendered object, with every values file, is valid against its Kubernetes schema', () => {
  const kinds = new Set();
  for (const files of [[], ...valuesFiles.map((f) => [f])]) {
    const objs = render({ files });
    assert.ok(objs.length >= 3, `${files}: objects rendered`);
    for (const o of objs) {
      assert.doesNotThrow(() => validate(o), `${files} ${o.kind} ${o.metadata && o.metadata.name}`);
      kinds.add(o.kind);
    }
  }
  for (const k of ['Deployment', 'Service', 'Secret', 'ServiceAccount', 'PodDisruptionBudget',
    'HorizontalPodAutoscaler', 'Ingress', 'NetworkPolicy', 'ServiceMonitor']) {
    assert.ok(kinds.has(k), `some values file renders a ${k}`);
  }
});

test('the schema check refuses a broken object (it is not vacuous)', () => {
  const d = structuredClone(app(render()));
  d.spec.replicas = 'two';
  assert.throws(() => validate(d), /replicas/);
  const c = structuredClone(app(render()));
  delete c.spec.template.spec.containers[0].name;
  assert.throws(() => validate(c), /name/);
});

test('Deployment: image, port, probes on /healthz, preStop pause, grace period', () => {
  const objs = render();
  const d = app(objs);
  const c = container(objs);
  assert.equal(c.image, 'twilio-block:local');
  assert.deepEqual(c.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  assert.equal(env(objs, 'PORT').value, '8080');
  for (const p of [c.readinessProbe, c.livenessProbe]) {
    assert.deepEqual(p.httpGet, { path: '/healthz', port: 'http' });
  }
  assert.deepEqual(c.lifecycle.preStop.exec.command, ['sleep', '5']);
  // The pause, then SHUTDOWN_GRACE_MS (20 s) for calls in flight, then a margin.
  assert.equal(env(objs, 'SHUTDOWN_GRACE_MS').value, '20000');
  assert.ok(d.spec.template.spec.terminationGracePeriodSeconds >= 5 + 20 + 1);
  assert.equal(d.spec.template.spec.terminationGracePeriodSeconds, 30);
  assert.equal(d.spec.strategy.rollingUpdate.maxUnavailable, 0);
});

test('the grace period follows SHUTDOWN_GRACE_MS and the pause, and cannot be set shorter', () => {
  const objs = render({ files: ['autoscaling.yaml'] });
  assert.deepEqual(container(objs).lifecycle.preStop.exec.command, ['sleep', '10']);
  assert.equal(app(objs).spec.template.spec.terminationGracePeriodSeconds, 10 + 45 + 5);
  const r = refuse({ set: { terminationGracePeriodSeconds: 20 } });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /terminationGracePeriodSeconds 20 is shorter/);
  assert.equal(app(render({ set: { terminationGracePeriodSeconds: 90 } })).spec.template.spec.terminationGracePeriodSeconds, 90);
});

test('restricted security: non-root as the image user, read-only root, no privilege, seccomp, no token', () => {
  for (const files of [[], ...valuesFiles.map((f) => [f])]) {
    const objs = render({ files });
    for (const d of objs.filter((o) => o.kind === 'Deployment')) {
      const pod = d.spec.template.spec;
      assert.equal(pod.automountServiceAccountToken, false, d.metadata.name);
      assert.equal(pod.securityContext.runAsNonRoot, true, d.metadata.name);
      assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault', d.metadata.name);
      assert.ok(pod.securityContext.runAsUser > 0, d.metadata.name);
      for (const c of pod.containers) {
        assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
        assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], c.name);
      }
    }
  }
  const pod = app(render()).spec.template.spec;
  // The Dockerfile's USER 10001:10001.
  assert.equal(pod.securityContext.runAsUser, 10001);
  assert.equal(pod.securityContext.runAsGroup, 10001);
  assert.equal(one(render(), 'ServiceAccount').automountServiceAccountToken, false);
});

test('resources from the bench figures, THREADS matched to the memory limit by the docs table', () => {
  const table = threadsTable();
  assert.ok(Object.keys(table).length >= 3, 'the docs table has rows');
  for (const files of [[], ['production.yaml']]) {
    const objs = render({ files });
    const r = container(objs).resources;
    assert.ok(r.requests.cpu && r.requests.memory && r.limits.memory, `${files}: requests and a memory limit`);
    assert.equal(r.limits.cpu, undefined, 'no CPU limit');
    assert.ok(table[r.limits.memory], `${files}: ${r.limits.memory} is a row of the table`);
    assert.equal(env(objs, 'THREADS').value, table[r.limits.memory].threads, `${files}: THREADS for ${r.limits.memory}`);
    assert.equal(r.requests.memory, table[r.limits.memory].request, `${files}: memory request for ${r.limits.memory}`);
  }
  // Peak at the defaults is 61-63 MB (bench/README.md): the request covers it, the limit doubles it.
  const r = container(render()).resources;
  assert.equal(r.requests.memory, '64Mi');
  assert.equal(r.limits.memory, '128Mi');
  assert.equal(env(render(), 'THREADS').value, '1024');
});

test('topology spread over nodes and zones', () => {
  const tsc = app(render()).spec.template.spec.topologySpreadConstraints;
  assert.deepEqual(tsc.map((t) => t.topologyKey), ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
  for (const t of tsc) assert.deepEqual(t.labelSelector.matchLabels, app(render()).spec.selector.matchLabels);
});

test('every setting of docs/configuration.md is reachable from values', () => {
  assert.ok(settings.length >= 25, `settings parsed from docs/configuration.md: ${settings.length}`);
  for (const name of settings) {
    if (name === 'PORT') {
      const objs = render({ set: { port: 9000 } });
      assert.equal(env(objs, 'PORT').value, '9000');
      assert.equal(container(objs).ports[0].containerPort, 9000);
      continue;
    }
    if (name === 'REDIS_URL') {
      const objs = render({ set: { 'redis.url': 'redis://:pw@r:6379/0' } });
      const ref = env(objs, 'REDIS_URL').valueFrom.secretKeyRef;
      assert.equal(decode(secret(objs, ref.name), ref.key), 'redis://:pw@r:6379/0');
      continue;
    }
    if (name === 'PROXY_SECRET') {
      const objs = render({ set: { 'proxySecret.value': 'abc' } });
      const ref = env(objs, 'PROXY_SECRET').valueFrom.secretKeyRef;
      assert.equal(decode(secret(objs, ref.name), ref.key), 'abc');
      assert.equal(env(objs, 'PROXY_SECRET').value, undefined);
      continue;
    }
    if (name === 'CURSOR_SECRET') {
      const objs = render({ set: { 'cursorSecret.value': 'k3y' } });
      const ref = env(objs, 'CURSOR_SECRET').valueFrom.secretKeyRef;
      assert.equal(decode(secret(objs, ref.name), ref.key), 'k3y');
      assert.equal(env(objs, 'CURSOR_SECRET').value, undefined);
      continue;
    }
    if (name === 'CAMPAIGN_SECRET') {
      const objs = render({ set: { 'campaignSecret.value': 'c4mp' } });
      const ref = env(objs, 'CAMPAIGN_SECRET').valueFrom.secretKeyRef;
      assert.equal(decode(secret(objs, ref.name), ref.key), 'c4mp');
      assert.equal(env(objs, 'CAMPAIGN_SECRET').value, undefined);
      continue;
    }
    assert.ok(name in defaults.config, `values.yaml lists config.${name}`);
    const sample = { LOG_LEVEL: 'debug', LOG_FORMAT: 'text' }[name] || '7';
    const objs = render({ setString: { [`config.${name}`]: sample } });
    assert.equal(env(objs, name).value, sample, `config.${name} reaches the container`);
  }
  // Unset settings are left out, so the service's own defaults apply.
  assert.equal(env(render(), 'UPSTREAM_TIMEOUT_MS'), undefined);
});

test('REDIS_URL always comes from a Secret: an existing one or one the chart makes', () => {
  assert.equal(env(render(), 'REDIS_URL'), undefined, 'no Redis by default');
  const prod = render({ files: ['production.yaml'] });
  assert.deepEqual(env(prod, 'REDIS_URL').valueFrom.secretKeyRef, { name: 'twilio-block-redis', key: 'url' });
  assert.deepEqual(env(prod, 'PROXY_SECRET').valueFrom.secretKeyRef, { name: 'twilio-block-proxy', key: 'proxy-secret' });
  none(prod, 'Secret');
  for (const files of [['autoscaling.yaml'], ['bundled-redis.yaml']]) {
    const objs = render({ files });
    const e = env(objs, 'REDIS_URL');
    assert.equal(e.value, undefined, `${files}: no plain value`);
    const s = secret(objs, e.valueFrom.secretKeyRef.name);
    assert.match(decode(s, e.valueFrom.secretKeyRef.key), /^redis:\/\/:[^@]+@/);
  }
  for (const bad of ['config.REDIS_URL', 'config.PROXY_SECRET', 'config.CURSOR_SECRET', 'config.CAMPAIGN_SECRET',
    'config.PORT']) {
    const r = refuse({ setString: { [bad]: 'x' } });
    assert.notEqual(r.status, 0, `${bad} is refused`);
  }
});

test('redis.enabled bundles one Redis with a password and noeviction, marked not for production', () => {
  const objs = render({ files: ['bundled-redis.yaml'] });
  const r = one(objs, 'Deployment', 'rel-twilio-block-redis');
  assert.equal(r.spec.replicas, 1);
  one(objs, 'Service', 'rel-twilio-block-redis');
  const s = secret(objs, 'rel-twilio-block-redis');
  const conf = decode(s, 'redis.conf');
  assert.match(conf, /^requirepass try-it-out$/m);
  assert.match(conf, /^maxmemory-policy noeviction$/m);
  assert.deepEqual(env(objs, 'REDIS_URL').valueFrom.secretKeyRef, { name: 'rel-twilio-block-redis', key: 'redis-url' });
  assert.equal(decode(s, 'redis-url'), 'redis://:try-it-out@rel-twilio-block-redis:6379/0');
  assert.deepEqual(r.spec.template.spec.containers[0].args, ['/etc/twilio-block-redis/redis.conf']);
  // A generated password when none is given, the same in the URL and in redis.conf.
  const gen = secret(render({ set: { 'redis.enabled': true } }), 'rel-twilio-block-redis');
  const pw = decode(gen, 'redis-password');
  assert.match(pw, /^[A-Za-z0-9]{32}$/);
  assert.ok(decode(gen, 'redis.conf').includes(`requirepass ${pw}\n`));
  assert.ok(decode(gen, 'redis-url').startsWith(`redis://:${pw}@`));
  assert.match(notes({ files: ['bundled-redis.yaml'] }), /NOT FOR PRODUCTION/);
  assert.match(defaults.redis && fs.readFileSync(path.join(chart, 'values.yaml'), 'utf8'), /NOT FOR PRODUCTION/);
  assert.match(fs.readFileSync(path.join(root, 'docs', 'operations.md'), 'utf8'), /not for production/i);
  assert.notEqual(refuse({ set: { 'redis.enabled': true, 'redis.password': 'a@b' } }).status, 0, 'a password that would break the URL');
});

test('PodDisruptionBudget only with more than one replica', () => {
  none(render(), 'PodDisruptionBudget');
  none(render({ set: { replicaCount: 1 } }), 'PodDisruptionBudget');
  const pdb = one(render({ set: { replicaCount: 3 } }), 'PodDisruptionBudget');
  assert.equal(pdb.spec.maxUnavailable, 1);
  assert.deepEqual(pdb.spec.selector.matchLabels, app(render()).spec.selector.matchLabels);
  one(render({ files: ['autoscaling.yaml'] }), 'PodDisruptionBudget');
  none(render({ set: { 'autoscaling.enabled': true, 'autoscaling.minReplicas': 1 } }), 'PodDisruptionBudget');
});

test('autoscaling.enabled: an autoscaling/v2 HPA on CPU and in-flight requests, no replicas in the Deployment', () => {
  assert.equal(app(render({ set: { replicaCount: 3 } })).spec.replicas, 3);
  none(render(), 'HorizontalPodAutoscaler');
  const objs = render({ files: ['autoscaling.yaml'] });
  assert.equal('replicas' in app(objs).spec, false);
  const hpa = one(objs, 'HorizontalPodAutoscaler');
  assert.equal(hpa.apiVersion, 'autoscaling/v2');
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'rel-twilio-block' });
  assert.equal(hpa.spec.minReplicas, 3);
  assert.equal(hpa.spec.maxReplicas, 12);
  assert.equal(hpa.spec.metrics[0].resource.name, 'cpu');
  const pods = hpa.spec.metrics.find((m) => m.type === 'Pods');
  assert.equal(pods.pods.metric.name, 'twilio_block_requests_in_flight');
  assert.equal(pods.pods.target.averageValue, '400');
  // The metric is one the service serves on /metrics.
  assert.match(fs.readFileSync(path.join(root, 'docs', 'operations.md'), 'utf8'), /\| `twilio_block_requests_in_flight` \| gauge/);
  const cpuOnly = one(render({ set: { 'autoscaling.enabled': true } }), 'HorizontalPodAutoscaler');
  assert.equal(cpuOnly.spec.metrics.length, 1);
});

test('Service, and the optional ServiceMonitor on /metrics', () => {
  const svc = one(render(), 'Service');
  assert.deepEqual(svc.spec.ports, [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
  assert.deepEqual(svc.spec.selector, app(render()).spec.selector.matchLabels);
  none(render(), 'ServiceMonitor');
  const sm = one(render({ files: ['production.yaml'] }), 'ServiceMonitor');
  assert.deepEqual(sm.spec.endpoints.map((e) => [e.port, e.path]), [['http', '/metrics']]);
  for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(svc.metadata.labels[k], v);
});

test('Ingress: body size and timeouts as deploy/edge.nginx.conf', () => {
  none(render(), 'Ingress');
  const ing = one(render({ files: ['production.yaml'] }), 'Ingress');
  const a = ing.metadata.annotations;
  const edge = fs.readFileSync(path.join(root, 'deploy', 'edge.nginx.conf'), 'utf8');
  const directive = (name) => {
    const m = new RegExp(`^\\s*${name}\\s+([^;]+);`, 'm').exec(edge);
    assert.ok(m, `${name} in edge.nginx.conf`);
    return m[1].trim();
  };
  assert.equal(a['nginx.ingress.kubernetes.io/proxy-body-size'], directive('client_max_body_size'));
  assert.equal(a['nginx.ingress.kubernetes.io/client-body-buffer-size'], directive('client_body_buffer_size'));
  assert.equal(a['nginx.ingress.kubernetes.io/proxy-next-upstream'], directive('proxy_next_upstream'));
  assert.equal(a['nginx.ingress.kubernetes.io/proxy-request-buffering'], directive('proxy_request_buffering'));
  for (const t of ['connect', 'read', 'send']) {
    assert.equal(`${a[`nginx.ingress.kubernetes.io/proxy-${t}-timeout`]}s`, directive(`proxy_${t}_timeout`), t);
  }
  assert.deepEqual(ing.spec.rules[0].http.paths[0].backend.service, { name: 'rel-twilio-block', port: { name: 'http' } });
  assert.deepEqual(ing.spec.tls, [{ hosts: ['sms.example.com'], secretName: 'sms-example-com-tls' }]);
});

test('NetworkPolicy: in the port; out DNS, HTTPS and Redis', () => {
  none(render(), 'NetworkPolicy');
  const np = one(render({ files: ['production.yaml'] }), 'NetworkPolicy');
  assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
  assert.deepEqual(np.spec.ingress[0].ports, [{ port: 'http', protocol: 'TCP' }]);
  assert.deepEqual(np.spec.ingress[0].from, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }]);
  const out = np.spec.egress.flatMap((e) => e.ports.map((p) => `${p.port}/${p.protocol}`));
  assert.deepEqual(out, ['53/UDP', '53/TCP', '443/TCP', '6379/TCP']);
  // With the bundled Redis: Redis only to its pod, the mock's port as an extra, and a policy
  // that lets only this release's pods reach Redis.
  const objs = render({ files: ['bundled-redis.yaml'] });
  const app_ = one(objs, 'NetworkPolicy', 'rel-twilio-block');
  const redisRule = app_.spec.egress.find((e) => e.ports[0].port === 6379);
  assert.equal(redisRule.to[0].podSelector.matchLabels['app.kubernetes.io/component'], 'redis');
  assert.ok(app_.spec.egress.some((e) => e.ports[0].port === 4010));
  const rp = one(objs, 'NetworkPolicy', 'rel-twilio-block-redis');
  assert.equal(rp.spec.ingress[0].from[0].podSelector.matchLabels['app.kubernetes.io/component'], 'server');
});

test('values.schema.json refuses what the service would refuse', () => {
  for (const set of [{ 'config.LOG_LEVEL': 'loud' }, { 'config.THREADS': 'many' }, { replicaCount: -1 },
    { nosuchkey: 1 }, { 'redis.url': 'http://x' }, { port: 70000 }]) {
    const r = refuse({ set });
    assert.notEqual(r.status, 0, JSON.stringify(set));
    assert.match(r.stderr, /schema|values don't meet/i, JSON.stringify(set));
  }
  assert.ok(['replicaCount', 'autoscaling', 'redis'].every((k) => k in defaults));
  assert.equal(defaults.autoscaling.enabled, false);
  assert.equal(defaults.redis.enabled, false);
});

test('NOTES.txt tells how to reach the service and warns of what is unsafe', () => {
  const plain = notes();
  assert.match(plain, /port-forward svc\/rel-twilio-block 8080:80/);
  assert.match(plain, /curl -s http:\/\/127\.0\.0\.1:8080\/healthz/);
  assert.match(plain, /PROXY_SECRET is not set/);
  assert.match(notes({ set: { replicaCount: 3 } }), /a retry that reaches another pod sends again/);
  assert.match(notes({ set: { replicaCount: 3 } }), /CURSOR_SECRET is not set/);
  const prod = notes({ files: ['production.yaml'] });
  assert.match(prod, /https:\/\/sms\.example\.com\//);
  assert.doesNotMatch(prod, /WARNING|PROXY_SECRET is not set/);
});

test('the bundled Redis keeps an append-only file (appendfsync always) when campaigns are on', () => {
  const conf = (objs) => decode(secret(objs, 'rel-twilio-block-redis'), 'redis.conf');
  const plain = render({ files: ['bundled-redis.yaml'] });
  assert.match(conf(plain), /^appendonly no$/m, 'keys alone: no file');
  const on = render({ files: ['bundled-redis.yaml'], set: { 'campaignSecret.value': 's' } });
  assert.match(conf(on), /^appendonly yes$/m);
  assert.match(conf(on), /^appendfsync always$/m);
});
