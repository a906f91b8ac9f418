/**
 * scripts/prerequisites.mjs, the first step of `npm test`: a missing or old Java is named in one
 * sentence with its install line, and nothing else runs (exit 1).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';

const SCRIPT = new URL('../../scripts/prerequisites.mjs', import.meta.url).pathname;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function runWithPath(setup: (bin: string) => void) {
  const bin = mkdtempSync(join(tmpdir(), 'presence-prereq-'));
  dirs.push(bin);
  setup(bin);
  return spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', env: { PATH: bin } });
}

it('passes on this machine, which has every prerequisite', () => {
  const result = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
  expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
});

it('names a missing java with its install line', () => {
  const result = runWithPath(() => {});
  expect(result.status).toBe(1);
  expect(result.stderr).toContain(
    'npm test: Java 17 or newer is needed for DynamoDB Local and `java` is not on the PATH; install it with: sudo apt-get install -y openjdk-17-jre-headless\n',
  );
});

it('names a java older than 17', () => {
  const result = runWithPath((bin) => {
    writeFileSync(join(bin, 'java'), '#!/bin/sh\necho \'openjdk version "11.0.22" 2024-01-16\' >&2\n');
    chmodSync(join(bin, 'java'), 0o755);
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('`java` is Java 11; install it with: sudo apt-get install -y openjdk-17-jre-headless');
});
