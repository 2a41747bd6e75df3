// The documentation holds together: every relative link in README.md and docs/*.md (outside code)
// names a file that exists and, for a Markdown file, a heading it has (GitHub's anchors); and
// the README's table links every block and event of metadata.json to its section of the
// reference. Prints what is broken and exits 1.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..', '..');
const pages = ['README.md'].concat(fs.readdirSync(path.join(root, 'docs'))
  .filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f)));
const broken = [];

// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to -, repeats numbered.
function anchors(file) {
  const seen = new Map();
  const out = new Set();
  let fence = false;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    const m = !fence && /^#{1,6} (.*)$/.exec(line);
    if (!m) continue;
    const base = m[1].trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) || 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

// The links of a page, outside fenced and inline code.
function links(file) {
  const out = [];
  let fence = false;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    if (fence) continue;
    const text = line.replace(/`[^`]*`/g, '');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) out.push(m[1]);
  }
  return out;
}

const cache = new Map();
for (const page of pages) {
  for (const link of links(path.join(root, page))) {
    if (/^[a-z]+:/i.test(link)) continue; // http(s), mailto: not checked here
    const [target, anchor] = link.split('#');
    const file = target ? path.resolve(path.dirname(path.join(root, page)), target)
      : path.join(root, page);
    if (!fs.existsSync(file)) {
      broken.push(`${page}: ${link}: no such file`);
      continue;
    }
    if (anchor === undefined || !file.endsWith('.md')) continue;
    if (!cache.has(file)) cache.set(file, anchors(file));
    if (!cache.get(file).has(anchor)) broken.push(`${page}: ${link}: no such heading`);
  }
}

const meta = JSON.parse(fs.readFileSync(path.join(root, 'metadata.json'), 'utf8'));
const readme = links(path.join(root, 'README.md'));
const names = meta.blocks.concat((meta.events || []).map((e) => e.name));
for (const name of names) {
  if (!readme.includes(`docs/reference.md#${name.toLowerCase()}`))
    broken.push(`README.md: no link to the reference of ${name}`);
}

if (broken.length) {
  console.error(broken.join('\n'));
  process.exit(1);
}
console.log(`links: ${pages.length} pages hold together; the README links all ${names.length} blocks and events`);
