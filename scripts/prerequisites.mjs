#!/usr/bin/env node
/**
 * First step of `npm test`: names every system dependency this machine lacks, each in one
 * sentence with its install line, before anything else runs. Plain Node, no dependencies.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where the browser tests start Chromium (test/browser/*.test.ts): Debian's package. */
const CHROMIUM = '/usr/bin/chromium';
/** 20.6: the first Node with module.register, which `node --import tsx` (npm start) needs. */
const MIN_NODE = [20, 6];
const MIN_JAVA = 17;

const missing = [];

const [nodeMajor = 0, nodeMinor = 0] = process.versions.node.split('.').map(Number);
if (nodeMajor < MIN_NODE[0] || (nodeMajor === MIN_NODE[0] && nodeMinor < MIN_NODE[1])) {
  missing.push(`Node ${MIN_NODE.join('.')} or newer is needed (this is ${process.versions.node}); install it from your distribution or nodejs.org's packages.`);
}

const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
if (java.error || java.status !== 0) {
  missing.push(`Java ${MIN_JAVA} or newer is needed for DynamoDB Local and \`java\` is not on the PATH; install it with: sudo apt-get install -y openjdk-17-jre-headless`);
} else {
  // `java -version` writes e.g. `openjdk version "17.0.13" 2024-10-15` (or "1.8.0_412" for Java 8) to stderr.
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${java.stderr}${java.stdout}`);
  const major = match ? (match[1] === '1' ? Number(match[2]) : Number(match[1])) : Number.NaN;
  if (!(major >= MIN_JAVA)) {
    missing.push(`Java ${MIN_JAVA} or newer is needed for DynamoDB Local and \`java\` is ${match ? `Java ${major}` : 'of an unknown version'}; install it with: sudo apt-get install -y openjdk-17-jre-headless`);
  }
}

if (!existsSync(CHROMIUM)) {
  missing.push(`Debian's Chromium is needed at ${CHROMIUM} for the browser tests; install it with: sudo apt-get install -y chromium`);
}

if (!existsSync(new URL('../node_modules/.bin/vitest', import.meta.url))) {
  missing.push('The dependencies are not installed; run: npm install');
}

if (missing.length > 0) {
  for (const line of missing) process.stderr.write(`npm test: ${line}\n`);
  process.exit(1);
}
