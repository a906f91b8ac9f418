/**
 * Child process of the fan-out scenario: opens N real WebSocket clients into one workspace
 * (10 tabs per user), then one agent changes status again and again; for each change, the time
 * from sending `setStatus` until every client has the presence message. Prints one JSON line.
 * The changer has 8 tabs and takes turns with a 300 ms pause between changes, which keeps each tab
 * inside the per-connection rate limit (a status change costs 4 tokens; 2 come back a second).
 *
 * argv: wsUrl workspace clients changes   env: BENCH_JWT_SECRET
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { mintToken } from '#local/tokens.ts';
import { forEachLimited } from '#app/concurrency.ts';

const [wsUrl, workspace, clientsArg, changesArg] = process.argv.slice(2);
const secret = process.env.BENCH_JWT_SECRET ?? '';
const clients = Number(clientsArg);
const changes = Number(changesArg);
const TABS_PER_USER = 10;

const CHANGER_TABS = 8;
const PAUSE_MS = 300;

type Listener = (message: { type: string; userId?: string; status?: string; code?: string }, at: number, who: string) => void;
const got = new Set<string>();

async function open(user: string, onMessage: Listener): Promise<WebSocket> {
  const token = await mintToken({ workspace: workspace as string, user }, { secret });
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
    const who = `${user}#${Math.random().toString(36).slice(2, 10)}`;
    socket.on('message', (data) => onMessage(JSON.parse(String(data)) as { type: string }, performance.now(), who));
    (socket as unknown as { who: string }).who = who;
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

let expectStatus = '';
let pending = 0;
let lastAt = 0;
let done: (() => void) | undefined;
/** An error reply fails the change in progress, or the next one if it came between changes. */
let refusal: string | undefined;
let refused: ((what: string) => void) | undefined;
const onMessage: Listener = (message, at, who) => {
  if (message.type === 'error') {
    refusal ??= `${who}: ${message.code}`;
    refused?.(refusal);
  }
  if (message.type === 'presence' && message.userId === 'changer' && message.status === expectStatus && pending > 0) {
    got.add(who);
    lastAt = Math.max(lastAt, at);
    if (--pending === 0) done?.();
  }
};

const sockets: WebSocket[] = [];
const started = performance.now();
// Clients connect one at a time. Found by this bench: in parallel, (a) simultaneous first
// connects of one user contend on its agent item (503 after the store's retries) and (b) a
// fan-out that posts to another user's connection whose $connect is still running gets 410 and
// forgets that connection as gone, so it never receives later messages.
const users = Math.ceil(clients / TABS_PER_USER);
await forEachLimited(
  Array.from({ length: users }, (_, u) => u),
  Number(process.env.BENCH_CONNECT_CONCURRENCY ?? 1),
  async (u) => {
    for (let tab = 0; tab < TABS_PER_USER && u * TABS_PER_USER + tab < clients; tab++) {
      sockets.push(await open(`watcher-${u}`, onMessage));
    }
  },
);
if (process.env.BENCH_DEBUG) process.stderr.write(`watchers open ${sockets.length}\n`);
const changers: WebSocket[] = [];
for (let tab = 0; tab < CHANGER_TABS; tab++) changers.push(await open('changer', onMessage));
const connectMs = performance.now() - started;
// Let the changer's own `connect` fan-out finish before timing.
await new Promise((resolve) => setTimeout(resolve, 500));

const perChange: number[] = [];
for (let i = 0; i < changes; i++) {
  expectStatus = i % 2 === 0 ? 'away' : 'online';
  // Every watcher and the changer's own tabs get the message.
  pending = clients + CHANGER_TABS;
  lastAt = 0;
  got.clear();
  const arrived = new Promise<void>((resolve, reject) => {
    done = resolve;
    refused = (what) => reject(new Error(`change ${i}: refused (${what})`));
    if (refusal) refused(refusal);
    setTimeout(() => {
      const missing = [...sockets, ...changers].map((s) => (s as unknown as { who: string }).who).filter((w) => !got.has(w));
      reject(new Error(`change ${i}: ${pending} clients still waiting after 30 s: ${missing.join(' ')}`));
    }, 30_000).unref();
  });
  const sentAt = performance.now();
  changers[i % CHANGER_TABS]?.send(JSON.stringify({ action: 'setStatus', status: expectStatus }));
  await arrived;
  perChange.push(lastAt - sentAt);
  await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
}
for (const socket of [...sockets, ...changers]) socket.terminate();
process.stdout.write(`${JSON.stringify({ clients, changes, connectMs, perChange })}\n`);
process.exit(0);
