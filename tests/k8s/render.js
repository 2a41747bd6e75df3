// Renders the chart with helm (path in $HELM) and validates objects against Kubernetes'
// schemas from kubernetes-models. Shared by chart.test.js and compose.test.js.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const YAML = require('yaml');

const root = path.resolve(__dirname, '..', '..');
const chart = path.join(root, 'deploy', 'helm', 'twilio-block');
const helm = process.env.HELM || 'helm';

function args(opts) {
  const a = [];
  for (const f of opts.files || []) a.push('-f', path.join(__dirname, 'values', f));
  for (const [k, v] of Object.entries(opts.set || {})) a.push('--set', `${k}=${v}`);
  for (const [k, v] of Object.entries(opts.setString || {})) a.push('--set-string', `${k}=${v}`);
  return a.filter(Boolean);
}

// Every object of one `helm template`, parsed; throws with helm's message when it refuses.
function render(opts = {}) {
  const out = execFileSync(helm, ['template', 'rel', opts.chart || chart, '--namespace', 'apps', ...args(opts)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return YAML.parseAllDocuments(out).map((d) => d.toJS()).filter((o) => o);
}

// helm's exit status and stderr for values it must refuse.
function refuse(opts = {}) {
  const r = spawnSync(helm, ['template', 'rel', chart, ...args(opts)], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

function lint(opts = {}) {
  return spawnSync(helm, ['lint', '--strict', chart, ...args(opts)], { encoding: 'utf8' });
}

// NOTES.txt as the chart renders it: helm template leaves it out, so a copy of the chart
// renders it into a ConfigMap through tpl.
function notes(opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twilio-block-notes-'));
  try {
    fs.cpSync(chart, dir, { recursive: true });
    fs.copyFileSync(path.join(dir, 'templates', 'NOTES.txt'), path.join(dir, 'notes.txt'));
    fs.writeFileSync(path.join(dir, 'templates', 'zz-notes.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ tpl (.Files.Get "notes.txt") . | quote }}\n');
    const objs = render({ ...opts, chart: dir });
    return objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'notes').data.notes;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const models = {
  'v1/Service': ['kubernetes-models/v1', 'Service'],
  'v1/Secret': ['kubernetes-models/v1', 'Secret'],
  'v1/ServiceAccount': ['kubernetes-models/v1', 'ServiceAccount'],
  'v1/ConfigMap': ['kubernetes-models/v1', 'ConfigMap'],
  'apps/v1/Deployment': ['kubernetes-models/apps/v1', 'Deployment'],
  'policy/v1/PodDisruptionBudget': ['kubernetes-models/policy/v1', 'PodDisruptionBudget'],
  'autoscaling/v2/HorizontalPodAutoscaler': ['kubernetes-models/autoscaling/v2', 'HorizontalPodAutoscaler'],
  'networking.k8s.io/v1/Ingress': ['kubernetes-models/networking.k8s.io/v1', 'Ingress'],
  'networking.k8s.io/v1/NetworkPolicy': ['kubernetes-models/networking.k8s.io/v1', 'NetworkPolicy'],
  'monitoring.coreos.com/v1/ServiceMonitor': ['@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1', 'ServiceMonitor'],
};

// Throws when the object breaks its kind's schema, or is of a kind with no schema here.
function validate(obj) {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const m = models[key];
  if (!m) throw new Error(`no schema for ${key}`);
  const Model = require(m[0])[m[1]];
  new Model(obj).validate();
}

module.exports = { root, chart, render, refuse, lint, notes, validate };
