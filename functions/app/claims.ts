/**
 * The claims a token carries (PROTOCOL.md "Tokens"), one schema each: the verifier checks them,
 * the local stack mints them and the authorizer passes them on in its context.
 */
import { z } from 'zod';
import { ID_PATTERN, ID_RULE, MAX_NAME_LENGTH, MAX_TEAMS, MAX_TEAMS_CHARACTERS, NAME_PATTERN, teamsWithinLimits } from '#domain/ids.ts';
import { ROLES } from '#app/principal.ts';

export const idSchema = z.string().regex(ID_PATTERN, ID_RULE);

export const nameSchema = z.string().min(1).max(MAX_NAME_LENGTH).regex(NAME_PATTERN, 'must have no control characters');

export const teamIdsSchema = z
  .array(idSchema)
  .refine(teamsWithinLimits, `at most ${MAX_TEAMS} team ids of at most ${MAX_TEAMS_CHARACTERS} characters in all`);

export const roleSchema = z.enum(ROLES);
