// The official TypeScript SDK's client against /mcp: connect, list, call sendSms, getMessage and
// a tool with bad args against the sandbox's Prism (PRISM_URL), then a retry with one
// idempotencyKey against a stand-in that counts the POSTs it gets.
// Usage: bash tests/contract/run.sh node tests/mcp/sdk.mjs <twilio-block>
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startService, stop, countingStandIn, check } from './service.mjs';

const bin = process.argv[2];
const prism = process.env.PRISM_URL;
if (!bin || !prism) {
  console.error('sdk: usage: PRISM_URL=... node sdk.mjs <twilio-block> (run it through contract/run.sh)');
  process.exit(2);
}
const ACCOUNT = 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const auth = `Basic ${Buffer.from(`${ACCOUNT}:test-token-not-a-secret`).toString('base64')}`;

async function connect(url, query = '') {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp${query}`), {
    requestInit: { headers: { Authorization: auth } },
  });
  const client = new Client({ name: 'twilio-block-tests', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

function text(result) {
  check(Array.isArray(result.content) && result.content[0].type === 'text', 'no text item');
  return result.content[0].text;
}

async function sandbox() {
  const svc = await startService(bin, { TWILIO_API_BASE: prism });
  try {
    const client = await connect(svc.url);
    check(client.getServerVersion().name === 'twilio-block', 'serverInfo.name');
    check(client.getServerCapabilities().tools, 'no tools capability');
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of ['sendSms', 'getMessage', 'listMessages', 'makeCall', 'pollMessages']) {
      check(names.includes(n), `tools/list lacks ${n}`);
    }
    check(!names.includes('validateWebhookSignature'), 'a relay-only block is a tool');
    await client.ping();

    const sent = await client.callTool({
      name: 'sendSms',
      arguments: { to: '+14155552671', from: '+15005550006', body: 'Your order has shipped.' },
    });
    check(sent.isError === false, `sendSms failed: ${text(sent)}`);
    check(typeof sent.structuredContent.sid === 'string', 'sendSms: no sid in structuredContent');
    check(JSON.stringify(JSON.parse(text(sent))) === JSON.stringify(sent.structuredContent),
      'sendSms: the text is not the structured content');

    const got = await client.callTool({ name: 'getMessage', arguments: { messageSid: `SM${'a'.repeat(32)}` } });
    check(got.isError === false, `getMessage failed: ${text(got)}`);
    check(typeof got.structuredContent.status === 'string', 'getMessage: no status');

    // a polling trigger has an outputSchema: the SDK checks structuredContent against it
    const poll = tools.find((t) => t.name === 'pollMessages');
    check(poll.outputSchema && poll.outputSchema.required.join() === 'items,cursor,more', 'pollMessages: outputSchema');
    const polled = await client.callTool({ name: 'pollMessages', arguments: { limit: 5 } });
    check(polled.isError === false, `pollMessages failed: ${text(polled)}`);
    check(Array.isArray(polled.structuredContent.items) && typeof polled.structuredContent.cursor === 'string',
      'pollMessages: structuredContent');
    const pollBad = await client.callTool({ name: 'pollMessages', arguments: { limit: 0 } });
    check(pollBad.isError === true && pollBad.structuredContent === undefined, 'pollMessages: an error with structuredContent');

    const bad = await client.callTool({ name: 'sendSms', arguments: { to: 'tomorrow', body: 'Hi', validityPeriod: 0 } });
    check(bad.isError === true, 'bad args are not a tool error');
    for (const field of ['to', 'from', 'validityPeriod']) {
      check(new RegExp(`\\n- ${field}: `).test(text(bad)), `the error text lacks ${field}'s reason: ${text(bad)}`);
    }
    let unknown = null;
    try {
      await client.callTool({ name: 'sendSMS', arguments: {} });
    } catch (err) {
      unknown = err;
    }
    check(unknown && /Did you mean sendSms\?/.test(unknown.message), `unknown tool: ${unknown && unknown.message}`);
    await client.close();

    const scoped = await connect(svc.url, '?toolsets=verify');
    const verify = (await scoped.listTools()).tools.map((t) => t.name).sort();
    check(JSON.stringify(verify) === '["checkVerification","startVerification"]', `?toolsets=verify: ${verify}`);
    await scoped.close();
  } finally {
    await stop(svc.child);
  }
}

async function keyedRetry() {
  const standin = await countingStandIn();
  const svc = await startService(bin, { TWILIO_API_BASE: standin.url });
  try {
    const client = await connect(svc.url);
    const args = { to: '+14155552671', from: '+15005550006', body: 'Hi', idempotencyKey: 'agent-run-42' };
    const first = await client.callTool({ name: 'sendSms', arguments: args });
    const again = await client.callTool({ name: 'sendSms', arguments: args });
    check(first.isError === false && again.isError === false, 'a keyed call failed');
    check(JSON.stringify(first.structuredContent) === JSON.stringify(again.structuredContent), 'the retry got another answer');
    check(standin.seen.posts === 1, `the stand-in got ${standin.seen.posts} POSTs, not 1`);
    check(standin.seen.requests[0].authorization === auth, 'the header credentials did not reach Twilio');
    await client.close();
  } finally {
    await stop(svc.child);
    await standin.close();
  }
}

try {
  await sandbox();
  await keyedRetry();
  console.log('sdk: ok');
} catch (err) {
  console.error(`sdk: ${err.stack || err}`);
  process.exit(1);
}
