// The numbers and lists the docs state about the service, compared with the service itself:
// the block count in operations.md's log lines, calling.md's blocks with dry runs,
// getting-started's list of the mock's specs, every flag in --help, and what tests/run installs
// in the README. Usage: node tests/apidoc/facts.js <twilio-block>
'use strict';
const fs = require('fs');
const path = require('path');
const http = require('http');
const { spawn, spawnSync } = require('child_process');

const bin = process.argv[2];
const root = path.join(__dirname, '..', '..');
const read = (f) => fs.readFileSync(path.join(root, f), 'utf8');
const problems = [];
const same = (what, got, want) => {
  if (JSON.stringify(got) !== JSON.stringify(want))
    problems.push(`${what}: the docs say ${JSON.stringify(got)}, the service ${JSON.stringify(want)}`);
};
// The text between <!-- NAME --> and <!-- /NAME --> in file.
const marked = (file, name) => {
  const m = new RegExp(`<!-- ${name} -->([\\s\\S]*?)<!-- /${name} -->`).exec(read(file));
  if (!m) throw new Error(`${file}: no <!-- ${name} --> ... <!-- /${name} -->`);
  return m[1];
};

function metadata() {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], { env: { ...process.env, PORT: '0', BIND: '127.0.0.1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (!m) return;
      child.stderr.removeAllListeners('data');
      http.get({ host: '127.0.0.1', port: m[1], path: '/api/twilio' }, (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => { child.kill('SIGTERM'); resolve({ meta: JSON.parse(body), log }); });
      }).on('error', (e) => { child.kill('SIGTERM'); reject(e); });
    });
    child.on('exit', (code) => reject(new Error(`the service exited (${code}): ${log}`)));
  });
}

async function main() {
  const { meta, log } = await metadata();
  const blocks = meta.blocks.map((b) => b.name);

  const started = /with (\d+) blocks/.exec(log)[1];
  for (const file of ['docs/operations.md']) {
    for (const m of read(file).matchAll(/with (\d+) blocks/g)) same(`${file} "with N blocks"`, m[1], started);
  }
  same('blocks served', String(blocks.length), started);

  const dry = meta.blocks.filter((b) => b.args.some((a) => a.name === 'dryRun')).map((b) => b.name);
  same('docs/calling.md blocks with dry runs',
    [...marked('docs/calling.md', 'dry-run-blocks').matchAll(/`(\w+)`/g)].map((m) => m[1]), dry);
  const count = /\((\d+) of (\d+); a test compares/.exec(read('docs/calling.md'));
  same('docs/calling.md "N of M"', count && [count[1], count[2]], [String(dry.length), String(blocks.length)]);

  // contract/spec.js's default set, as the docs name the products
  const specSrc = read('tests/contract/spec.js');
  const list = /: \[((?:\s*'twilio_[\w.]+',?)+)\]/.exec(specSrc)[1];
  const names = [...list.matchAll(/'twilio_(\w+?)_(v\d+|v2010)\.json'/g)].map(([, p, v]) =>
    p === 'api' ? '2010-04-01' : `${{ lookups: 'Lookup' }[p] || p[0].toUpperCase() + p.slice(1)} ${v}`);
  const said = marked('docs/getting-started.md', 'mock-specs').split(/, | and /).map((t) => t.trim());
  same('docs/getting-started.md the mock\'s specs', said, names);

  // every flag the binary takes is in --help
  const help = spawnSync(bin, ['--help'], { encoding: 'utf8' }).stdout;
  const flags = new Set();
  for (const f of ['src/main.c', 'src/config.c'])
    for (const m of read(f).matchAll(/"(--[a-z][a-z-]+)"/g)) flags.add(m[1]);
  for (const f of flags) if (!new RegExp(`^  ${f} `, 'm').test(help)) problems.push(`--help does not list ${f}`);
  for (const m of read('docs/configuration.md').matchAll(/\| `(--[a-z-]+)` \|/g))
    if (!flags.has(m[1])) problems.push(`docs/configuration.md names ${m[1]}, which the binary does not take`);

  // openapi.md's table of collection variables: the collection's own
  const postman = JSON.parse(spawnSync(bin, ['--postman'], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout);
  const table = [...marked('docs/openapi.md', 'postman-variables').matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]);
  same('docs/openapi.md collection variables', table, postman.variable.map((v) => v.key));

  // what tests/run installs, named in the README
  const run = read('tests/run');
  const quick = /apt-get install -y ([^&]+)&&/.exec(read('README.md'))[1].split(/\s+/);
  const readme = read('README.md');
  const pkgs = [/packages="([^"]+)"/.exec(run)[1], 'nodejs npm', /for p in (clang [^;]+);/.exec(run)[1]].join(' ').split(/\s+/);
  for (const p of pkgs) if (p && !quick.includes(p) && !readme.includes(`\`${p}\``)) problems.push(`README.md does not say tests/run installs ${p}`);

  for (const p of problems) console.error(`FAIL ${p}`);
  console.log(`facts: ${problems.length} wrong (${blocks.length} blocks, ${dry.length} with dry runs, ${flags.size} flags, ${names.length} mock specs)`);
  process.exit(problems.length ? 1 : 0);
}
main().catch((e) => { console.error(`facts: ${e.stack || e}`); process.exit(1); });
