// Every tool's inputSchema compiles in ajv (JSON Schema 2020-12, the default dialect from MCP
// 2025-11-25, strict mode) and says what its block's definition says: one property per arg but
// the credentials, the same required args, types, enums, lengths, ranges, SID patterns and
// descriptions; every block but the relay-only ones is a tool; the default list fits the
// 100,000-byte budget and each toolset's size is printed.
// Usage: node tests/mcp/schemas.mjs <twilio-block>
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import { startService, stop, check } from './service.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = process.argv[2];
const common = JSON.parse(fs.readFileSync(path.join(root, 'blocks', 'common', 'args.json'), 'utf8'));
const meta = JSON.parse(fs.readFileSync(path.join(root, 'metadata.json'), 'utf8'));
const blocks = meta.blocks.map((name) => {
  const def = JSON.parse(fs.readFileSync(path.join(root, 'blocks', `${name}.json`), 'utf8'));
  def.args = def.args.map((a) => (a.use ? { ...common.find((c) => c.name === a.use), ...a, use: undefined } : a));
  return def;
});

// The short words of mcptools.c for the args most tools share (their role), else the arg's info.
const roleText = {
  region: /^Twilio region/, dryRun: /^true: check the arguments/,
  idempotencyKey: /^A key of yours \(at most 255 characters\)/,
};

function expectedSchema(arg) {
  const c = arg.check || {};
  const str = (options) => {
    const s = { type: 'string' };
    if (options) s.enum = options;
    if (c.maxLength !== undefined) s.maxLength = c.maxLength;
    if (c.url) s.format = 'uri';
    if (c.sid) s.pattern = `^(${[].concat(c.sid).join('|')})[0-9a-fA-F]{32}$`;
    return s;
  };
  switch (arg.type) {
    case 'String': case 'DatePicker': return str();
    case 'Select': return str(arg.options);
    case 'Number': {
      const s = { type: c.decimal ? 'number' : 'integer' };
      if (c.min !== undefined) s.minimum = c.min;
      if (c.max !== undefined) s.maximum = c.max;
      return s;
    }
    case 'Boolean': return { type: 'boolean' };
    case 'List': {
      const items = { type: 'string' };
      if ((arg.structure || {}).options || arg.options) items.enum = arg.options || arg.structure.options;
      if (c.maxLength !== undefined) items.maxLength = c.maxLength;
      if (c.url) items.format = 'uri';
      if (c.sid) items.pattern = `^(${[].concat(c.sid).join('|')})[0-9a-fA-F]{32}$`;
      const s = { type: 'array', items };
      if (c.minItems !== undefined) s.minItems = c.minItems;
      if (c.maxItems !== undefined) s.maxItems = c.maxItems;
      return s;
    }
    case 'JSON':
      return Array.isArray(arg.example) ? { type: 'array' }
        : arg.example && typeof arg.example === 'object' ? { type: 'object' } : {};
    default: throw new Error(`unknown type ${arg.type}`);
  }
}

async function rpc(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) };
}

const svc = await startService(bin);
let failures = 0;
const fail = (msg) => { failures++; console.error(`FAIL ${msg}`); };
try {
  const list = await rpc(`${svc.url}/mcp`, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
  check(list.status === 200, `tools/list: HTTP ${list.status}`);
  const tools = list.json.result.tools;
  console.log(`tools/list: ${tools.length} tools, ${list.text.length} bytes`);
  if (list.text.length > 100000) fail(`the default tools/list is ${list.text.length} bytes, over 100,000`);
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  ajv.addFormat('uri', true);
  const wanted = blocks.filter((b) => !b.handler).map((b) => b.name);
  const names = tools.map((t) => t.name);
  if (JSON.stringify(names) !== JSON.stringify(wanted)) fail(`tools ${names} are not the blocks ${wanted}`);
  for (const tool of tools) {
    const b = blocks.find((x) => x.name === tool.name);
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(tool.name)) fail(`${tool.name}: not a valid tool name`);
    try {
      ajv.compile(tool.inputSchema);
    } catch (err) {
      fail(`${tool.name}: inputSchema does not compile: ${err.message}`);
    }
    const s = tool.inputSchema;
    if (s.type !== 'object' || s.additionalProperties !== false) fail(`${tool.name}: not a closed object schema`);
    for (const k of ['anyOf', 'oneOf', 'allOf']) if (s[k]) fail(`${tool.name}: ${k} at the top level`);
    if (!tool.description.startsWith(b.description)) fail(`${tool.name}: description is not the block's`);
    // every arg but the credentials and the edge (docs/mcp.md, "The tools")
    const args = b.args.filter((a) => a.type !== 'credentials' && a.role !== 'edge');
    if (JSON.stringify(Object.keys(s.properties)) !== JSON.stringify(args.map((a) => a.name))) {
      fail(`${tool.name}: properties ${Object.keys(s.properties)} are not the args ${args.map((a) => a.name)}`);
    }
    const required = args.filter((a) => a.required).map((a) => a.name);
    if (JSON.stringify(s.required || []) !== JSON.stringify(required)) fail(`${tool.name}: required ${s.required} != ${required}`);
    for (const a of args) {
      const got = { ...s.properties[a.name] };
      const desc = got.description;
      delete got.description;
      const want = expectedSchema(a);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        fail(`${tool.name}.${a.name}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
      }
      const role = roleText[a.role];
      if (role ? !role.test(desc) : desc !== a.info) fail(`${tool.name}.${a.name}: description "${desc}"`);
      if (a.type === 'credentials') fail(`${tool.name}: credential ${a.name} is an argument`);
    }
    const trigger = (meta.pollingTriggers || []).find((t) => t.block === tool.name);
    if (trigger) {
      const want = { type: 'object', properties: { [trigger.items]: { type: 'array', items: { type: 'object' } },
        [trigger.cursor]: { type: 'string' }, [trigger.more]: { type: 'boolean' } }, required: [trigger.items, trigger.cursor, trigger.more] };
      if (JSON.stringify(tool.outputSchema) !== JSON.stringify(want)) fail(`${tool.name}: outputSchema ${JSON.stringify(tool.outputSchema)}`);
      else ajv.compile(tool.outputSchema);
    } else if (tool.outputSchema) {
      fail(`${tool.name}: an outputSchema, but its answer's shape is not one (a dry run, or Twilio's resource)`);
    }
    const ann = tool.annotations;
    if (!ann || ann.openWorldHint !== true || typeof ann.readOnlyHint !== 'boolean') fail(`${tool.name}: annotations`);
  }
  const sets = new Map();
  for (const set of ['messaging', 'voice', 'numbers', 'verify', 'lookup', 'conversations', 'triggers', 'advanced']) {
    const r = await rpc(`${svc.url}/mcp?toolsets=${set}`, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    sets.set(set, { bytes: r.text.length, tools: r.json.result.tools.map((t) => t.name) });
    console.log(`?toolsets=${set}: ${r.json.result.tools.length} tools, ${r.text.length} bytes: ${r.json.result.tools.map((t) => t.name).join(', ')}`);
  }
  const covered = [...sets.values()].flatMap((x) => x.tools).sort();
  if (JSON.stringify(covered) !== JSON.stringify([...wanted].sort())) fail(`the toolsets do not cover each tool once: ${covered}`);
} finally {
  await stop(svc.child);
}
if (failures) {
  console.error(`schemas: ${failures} failures`);
  process.exit(1);
}
console.log('schemas: ok');
