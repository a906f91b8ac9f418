/** Builds the presence CDK app for tests: cdk.json's context, an outdir under the OS temp dir, bundling skipped unless asked. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildPresenceApp } from '../../infra/presence-app.ts';

const outdirs: string[] = [];

/** Deletes every outdir made so far; call from afterAll. */
export function removeOutdirs(): void {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

function cdkJsonContext(): Record<string, unknown> {
  return (JSON.parse(readFileSync('cdk.json', 'utf8')) as { context: Record<string, unknown> }).context;
}

export function newApp(context: Record<string, unknown> = {}, options: { bundle?: boolean } = {}): App {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-presence-'));
  outdirs.push(outdir);
  return new App({
    outdir,
    context: { ...cdkJsonContext(), ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }), ...context },
  });
}

export function synthPresence(context: Record<string, unknown> = {}) {
  const built = buildPresenceApp(newApp(context));
  return {
    ...built,
    stateful: Template.fromStack(built.stateful),
    stateless: Template.fromStack(built.stateless),
    statelessStack: built.stateless,
  };
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/** Logical id of each presence function, by its handler export (`index.<handler>`). */
export function functionsByHandler(template: Template): Map<string, { id: string; properties: Record<string, unknown> }> {
  const found = new Map<string, { id: string; properties: Record<string, unknown> }>();
  const resources = template.toJSON().Resources as Resources;
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const properties = resource.Properties ?? {};
    const handler = String(properties.Handler ?? '');
    if (handler.startsWith('index.')) found.set(handler.slice('index.'.length), { id, properties });
  }
  return found;
}

/** A short label for a policy resource: which thing of ours it points at. */
function resourceLabel(resource: unknown, ownLogGroupId: string | undefined): string {
  const text = JSON.stringify(resource);
  if (ownLogGroupId && text === JSON.stringify({ 'Fn::GetAtt': [ownLogGroupId, 'Arn'] })) return 'own-log-group';
  if (text === '"*"') return 'any resource';
  const index = /\/index\/(\w+)/.exec(text);
  if (index) return `index/${index[1]}`;
  if (text.includes('@connections')) return 'connections';
  // The table's stream ARN comes from the table too: tell it apart before the table.
  if (text.includes('PresenceTable') && text.includes('StreamArn')) return 'stream';
  if (text.includes('PresenceTable')) return 'table';
  // Logical ids inside the PresenceService construct start with its id (`Presence`).
  if (/"(Presence)?DeliveryDlq[A-Za-z0-9]*","Arn"/.test(text)) return 'dlq';
  if (text.includes('PresenceBus')) return 'bus';
  if (/"(Presence)?Fanout[A-Za-z0-9]*","Arn"/.test(text)) return 'fanout';
  return text;
}

/** Every `action on resource` the function's role is allowed, as sorted strings. */
export function grantsOf(template: Template, functionId: string): string[] {
  const resources = template.toJSON().Resources as Resources;
  const fn = resources[functionId];
  const roleId = ((fn?.Properties?.Role as { 'Fn::GetAtt': string[] } | undefined)?.['Fn::GetAtt'] ?? [])[0];
  const ownLogGroupId = (fn?.Properties?.LoggingConfig as { LogGroup?: { Ref?: string } } | undefined)?.LogGroup?.Ref;
  const grants = new Set<string>();
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = (resource.Properties?.Roles ?? []) as { Ref: string }[];
    if (!roles.some((role) => role.Ref === roleId)) continue;
    const statements = (resource.Properties?.PolicyDocument as { Statement: Record<string, unknown>[] } | undefined)?.Statement ?? [];
    for (const statement of statements) {
      const actions = ([] as unknown[]).concat(statement.Action) as string[];
      const targets = ([] as unknown[]).concat(statement.Resource);
      for (const action of actions) for (const target of targets) grants.add(`${statement.Effect} ${action} on ${resourceLabel(target, ownLogGroupId)}`);
    }
  }
  // Managed policies would grant more than we can see here.
  const role = resources[roleId ?? ''];
  if (role?.Properties?.ManagedPolicyArns) grants.add('managed policies attached');
  return [...grants].sort();
}
