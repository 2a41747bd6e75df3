// twilioRequest's product list is Twilio's own: every option is the host of one of Twilio's
// official specs in @twilio/cli-core (https://{product}.twilio.com), and every such host is an
// option. The service builds the URL from the option alone, so this is where the caller's
// credentials can go.
'use strict';
const fs = require('fs');
const path = require('path');

const dir = path.dirname(require.resolve('@twilio/cli-core/src/services/twilio-api/twilio_api_v2010.json'));
const hosts = new Set();
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json'))) {
  const spec = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  const servers = (spec.servers || []).concat(...Object.values(spec.paths || {}).map((p) => p.servers || []));
  for (const s of servers) {
    const m = /^https:\/\/([a-z0-9-]+)\.twilio\.com$/.exec(s.url);
    if (!m) throw new Error(`${file}: unexpected server ${s.url}`);
    hosts.add(m[1]);
  }
}
const block = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'blocks', 'twilioRequest.json'), 'utf8'));
const product = block.args.find((a) => a.role === 'product');
const options = new Set(product.options);
const unknown = [...options].filter((o) => !hosts.has(o));
const missing = [...hosts].filter((h) => !options.has(h));
if (unknown.length || missing.length) {
  console.error(`twilioRequest products: not Twilio hosts: [${unknown}]; Twilio hosts missing: [${missing}]`);
  process.exit(1);
}
console.log(`twilioRequest products: the ${options.size} hosts of Twilio's specs in @twilio/cli-core`);
