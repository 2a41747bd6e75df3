// Writes Twilio's official 2010-04-01 spec (from @twilio/cli-core) to the path given (default
// node_modules/.cache/twilio_api_v2010.json), with one change: every array property of a form
// body gets an explicit `encoding: {style: form, explode: true}`. That is already OpenAPI's
// default for application/x-www-form-urlencoded, but Prism only applies it when it is spelled
// out; without it Prism rejects the repeated keys (MediaUrl=a&MediaUrl=b) that Twilio expects.
'use strict';
const fs = require('fs');
const path = require('path');

const src = require.resolve('@twilio/cli-core/src/services/twilio-api/twilio_api_v2010.json');
const out = process.argv[2] || path.join(__dirname, '..', 'node_modules', '.cache', 'twilio_api_v2010.json');
const spec = JSON.parse(fs.readFileSync(src, 'utf8'));

let patched = 0;
for (const item of Object.values(spec.paths)) {
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
fs.writeFileSync(out, JSON.stringify(spec));
console.log(`spec: ${out} (${patched} array parameters given explicit form encoding)`);
