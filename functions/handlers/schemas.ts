/** Every shape that enters from outside, in one schema library (zod). */
import { z } from 'zod';
import { CHOSEN_STATUSES } from '#domain/agent.ts';
import { MAX_NAME_LENGTH, MAX_TEAMS } from '#domain/ids.ts';
import { idSchema, roleSchema, teamIdsSchema } from '#app/claims.ts';

/** What the authorizer hands to every later route (API Gateway allows only flat string values). */
export const authorizerContextSchema = z.object({
  userId: idSchema,
  workspaceId: idSchema,
  name: z.string().max(MAX_NAME_LENGTH),
  teams: z.string().transform((text, ctx) => {
    const parsed = teamIdsSchema.safeParse(safeJson(text));
    if (!parsed.success) {
      ctx.addIssue({ code: 'custom', message: 'teams must be a JSON array of ids' });
      return z.NEVER;
    }
    return parsed.data;
  }),
  role: roleSchema,
  /** The token's end (epoch ms); absent on connections authorized before it was passed on. */
  expiresAt: z
    .string()
    .regex(/^\d{0,15}$/)
    .transform((text) => (text === '' ? undefined : Number(text)))
    .optional(),
});

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const heartbeatMessage = z.strictObject({
  action: z.literal('heartbeat'),
  active: z.boolean().optional(),
});

export const setStatusMessage = z.strictObject({
  action: z.literal('setStatus'),
  status: z.unknown().optional(),
  awayReason: idSchema.optional(),
});

/** An admin's `PUT /workspaces/{ws}/agents/{userId}/status` body; the status itself is checked as setStatus checks it. */
export const agentStatusBodySchema = z.strictObject({
  status: z.unknown().optional(),
  awayReason: idSchema.optional(),
});

export const chosenStatusSchema = z.enum(CHOSEN_STATUSES);

/** Team ids to follow (1 to MAX_TEAMS), or null for the whole workspace. */
export const subscribeMessage = z.strictObject({
  action: z.literal('subscribe'),
  teams: z.union([z.null(), z.array(idSchema).min(1).max(MAX_TEAMS)], {
    error: `teams must be null (the whole workspace) or 1 to ${MAX_TEAMS} team ids`,
  }),
});

/**
 * `teams` on the `$connect` query string: the subscription to start with, as comma-separated
 * team ids (the same ids and limits as subscribe); absent: the whole workspace.
 */
export const connectTeamsParameter = z
  .string()
  .transform((text) => text.split(','))
  .pipe(z.array(idSchema).min(1).max(MAX_TEAMS, `at most ${MAX_TEAMS} teams`));

export const bareActionMessage = (action: 'getPresence' | 'logout') => z.strictObject({ action: z.literal(action) });

/** Epoch milliseconds in a query string: digits only. */
const epochMs = z.string().regex(/^\d{1,15}$/, 'must be epoch milliseconds (digits)').transform(Number);

export const historyQuerySchema = z.strictObject({
  from: epochMs.optional(),
  to: epochMs.optional(),
  next: z.string().min(1).max(512).optional(),
});

export const reportQuerySchema = z.strictObject({
  from: z.string().max(10),
  to: z.string().max(10),
  team: idSchema.optional(),
  userId: idSchema.optional(),
});

export const agentsQuerySchema = z.strictObject({
  status: z.enum(['online', 'away', 'offline']),
  team: idSchema.optional(),
});

/** At most this many away reasons per workspace. */
const MAX_AWAY_REASONS = 20;
const MAX_LABEL_CHARACTERS = 40;

/** One user-perceived character (an emoji with its modifiers and joiners is one). */
function isOneGrapheme(text: string): boolean {
  return [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(text)].length === 1;
}

const awayReasonSchema = z.strictObject({
  id: idSchema,
  label: z
    .string()
    .trim()
    .refine((label) => label.length > 0 && [...label].length <= MAX_LABEL_CHARACTERS, `must be 1 to ${MAX_LABEL_CHARACTERS} characters`),
  emoji: z.string().max(32).refine(isOneGrapheme, 'must be one emoji').optional(),
});

export const settingsBodySchema = z
  .strictObject({
    idleTimeoutSeconds: z.number().int().optional(),
    timezone: z.string().min(1).max(64).optional(),
    awayReasons: z
      .array(awayReasonSchema)
      .max(MAX_AWAY_REASONS, `at most ${MAX_AWAY_REASONS} away reasons`)
      .refine((reasons) => new Set(reasons.map((reason) => reason.id)).size === reasons.length, 'away reason ids must be unique')
      .optional(),
    /** null turns the reassignment hook off. */
    unavailableAfterSeconds: z.number().int().nullable().optional(),
  })
  .refine((body) => Object.values(body).some((value) => value !== undefined), {
    message: 'give at least one of idleTimeoutSeconds, timezone, awayReasons, unavailableAfterSeconds',
  });

export const onlineAgentsEventSchema = z.strictObject({
  workspaceId: idSchema,
  status: z.enum(['online', 'away', 'offline']).default('online'),
  team: idSchema.optional(),
});

/** A short, client-safe description of what failed validation. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/** A fan-out chunk, as one of our functions hands it to the fan-out function. */
export const fanoutChunkSchema = z.strictObject({
  messages: z.array(z.unknown()).min(1),
  connections: z.array(z.strictObject({ connectionId: z.string().min(1), userId: z.string(), connectedAt: z.number() })),
  now: z.number(),
});
