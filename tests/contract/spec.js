// Writes one OpenAPI document for Prism to the path given (default
// node_modules/.cache/twilio_mock.json): Twilio's official specs (from @twilio/cli-core) of every
// product a block calls, 2010-04-01 (api.twilio.com), Verify v2, Lookup v2, Conversations v1 and
// Events v1, merged. Their paths and component names do not overlap, so one Prism serves every product
// and the service reaches all of them through one TWILIO_API_BASE.
//
// One change: every array property of a form body gets an explicit
// `encoding: {style: form, explode: true}`. That is already OpenAPI's default for
// application/x-www-form-urlencoded, but Prism only applies it when it is spelled out; without
// it Prism rejects the repeated keys (MediaUrl=a&MediaUrl=b) that Twilio expects.
'use strict';
const fs = require('fs');
const path = require('path');

// CONTRACT_SPECS (names separated by spaces) serves another set: Conversations v1 and
// Messaging v1 both have /v1/Services/{Sid}, so the trigger flows' contract test gets a mock of
// its own (2010-04-01, Messaging v1, Events v1). Events v1 overlaps nothing and is in both.
const specs = process.env.CONTRACT_SPECS ? process.env.CONTRACT_SPECS.trim().split(/\s+/)
  : ['twilio_api_v2010.json', 'twilio_verify_v2.json', 'twilio_lookups_v2.json',
    'twilio_conversations_v1.json', 'twilio_events_v1.json'];
const out = process.argv[2] || path.join(__dirname, '..', 'node_modules', '.cache', 'twilio_mock.json');

function load(name) {
  return JSON.parse(fs.readFileSync(require.resolve(`@twilio/cli-core/src/services/twilio-api/${name}`), 'utf8'));
}

const merged = load(specs[0]);
merged.info.title = 'Twilio - ' + specs.map((s) => s.replace(/^twilio_|\.json$/g, '')).join(', ');
for (const name of specs.slice(1)) {
  const spec = load(name);
  for (const [p, item] of Object.entries(spec.paths)) {
    if (merged.paths[p]) throw new Error(`${name}: path ${p} is in two specs`);
    merged.paths[p] = item;
  }
  for (const [kind, members] of Object.entries(spec.components)) {
    merged.components[kind] = merged.components[kind] || {};
    for (const [key, value] of Object.entries(members)) {
      const have = merged.components[kind][key];
      if (have && JSON.stringify(have) !== JSON.stringify(value))
        throw new Error(`${name}: components.${kind}.${key} differs between specs`);
      merged.components[kind][key] = value;
    }
  }
  merged.tags = (merged.tags || []).concat(spec.tags || []);
}

let patched = 0;
for (const item of Object.values(merged.paths)) {
  for (const op of Object.values(item)) {
    const form = op && op.requestBody && op.requestBody.content &&
      op.requestBody.content['application/x-www-form-urlencoded'];
    const props = form && form.schema && form.schema.properties;
    if (!props) continue;
    for (const [name, schema] of Object.entries(props)) {
      if (schema.type !== 'array') continue;
      form.encoding = form.encoding || {};
      form.encoding[name] = Object.assign({ style: 'form', explode: true }, form.encoding[name]);
      patched++;
    }
  }
}
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(merged));
console.log(`spec: ${out} (${specs.join(', ')}; ${Object.keys(merged.paths).length} paths, ` +
  `${patched} array parameters given explicit form encoding)`);
