/**
 * The client as a package, as an adopter gets it: `npm pack` in client/ (which builds dist/),
 * the tarball installed into an empty project, a consumer file type-checked against the
 * package's declarations with `tsc` (including calls that must not compile), then run with Node
 * against the local stack: connect, setStatus through the store, logout.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type TestStack, startTestStack, uniqueWorkspace } from '#test/support/stack.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

let stack: TestStack;
let work: string;
beforeAll(async () => {
  stack = await startTestStack();
  work = await mkdtemp(join(tmpdir(), 'presence-client-package-'));
});
afterAll(async () => {
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A consumer as an adopter writes it: only the package's public surface, strict TypeScript. */
function consumer(url: string, token: string): string {
  return `import { PresenceClient, PresenceClientError, type PresenceSnapshot } from '@presence/client';

const client = new PresenceClient({ url: ${JSON.stringify(url)}, token: () => ${JSON.stringify(token)}, activity: 'manual' });
const seen: PresenceSnapshot[] = [];
const unsubscribe = client.store.subscribe(() => seen.push(client.store.getSnapshot()));
await client.connect();
await client.setStatus('away');
const after = client.store.getSnapshot();
const stable = client.store.getSnapshot() === after;
await client.logout();
unsubscribe();
const error = new PresenceClientError('timeout', 'just a value');
console.log(JSON.stringify({
  me: after.me?.status,
  connection: after.connection,
  stable,
  frozen: Object.isFrozen(after),
  states: [...new Set(seen.map((snapshot) => snapshot.connection))],
  finalState: client.connectionState,
  errorName: error.name,
}));
`;
}

/** Calls the declarations must refuse: if the package shipped `any`, these lines would compile and tsc would fail on the unused directives. */
const MISUSE = `import { PresenceClient } from '@presence/client';

declare const client: PresenceClient;
// @ts-expect-error offline is derived, never chosen
await client.setStatus('offline');
// @ts-expect-error the snapshot is read-only
client.store.getSnapshot().connection = 'open';
// @ts-expect-error the options need a token
new PresenceClient({ url: 'wss://example.invalid' });
export {};
`;

it('packs, installs into an empty project, type-checks a consumer and runs it against the local stack', async () => {
  await run('npm', ['pack', '--pack-destination', work], { cwd: join(ROOT, 'client') });
  const tarball = (await readdir(work)).find((name) => name.endsWith('.tgz'));
  expect(tarball).toMatch(/^presence-client-\d+\.\d+\.\d+\.tgz$/);

  const project = join(work, 'project');
  await run('mkdir', ['-p', project]);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'adopter', private: true, type: 'module' }));
  // The package has no dependencies: nothing to fetch.
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(work, tarball!)], { cwd: project });

  const workspace = uniqueWorkspace();
  const token = await stack.token({ workspace, user: 'alice', name: 'Alice' });
  await writeFile(join(project, 'consumer.ts'), consumer(stack.wsUrl, token));
  await writeFile(join(project, 'misuse.ts'), MISUSE);
  await writeFile(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], types: [], strict: true, outDir: 'out' },
      files: ['consumer.ts', 'misuse.ts'],
    }),
  );
  await run(process.execPath, [TSC, '-p', project], { cwd: project });

  const observer = await stack.connect({ workspace, user: 'observer' });
  try {
    // Node 20 has a global WebSocket behind this flag; the package itself needs no dependency.
    const { stdout } = await run(process.execPath, ['--experimental-websocket', '--no-warnings', join(project, 'out/consumer.js')], { cwd: project, timeout: 20_000 });
    expect(JSON.parse(stdout)).toEqual({
      me: 'away',
      connection: 'open',
      stable: true,
      frozen: true,
      states: ['connecting', 'open', 'closed'],
      finalState: 'closed',
      errorName: 'PresenceClientError',
    });
    await observer.next('presence', (m) => m.userId === 'alice' && m.reason === 'manual' && m.status === 'away');
    await observer.next('presence', (m) => m.userId === 'alice' && m.reason === 'logout' && m.status === 'offline');
  } finally {
    observer.socket.close();
  }
}, 120_000);
