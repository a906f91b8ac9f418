/** `online-agents`: the assignment query as a directly invoked function, `{workspaceId, status, team}`. */
import type { PresenceView } from '#domain/agent.ts';
import { queryAgents } from '#app/agents.ts';
import { InvalidRequestError } from '#app/errors.ts';
import type { Ports } from '#app/ports.ts';
import { errorReply, type HttpErrorBody } from '#handlers/errors.ts';
import { describeIssues, onlineAgentsEventSchema } from '#handlers/schemas.ts';

export type OnlineAgentsResult = { agents: PresenceView[] } | HttpErrorBody;

/** Errors are returned, not thrown: a thrown error would reach the caller with a stack trace. */
export function makeOnlineAgentsHandler(deps: { ports: Pick<Ports, 'store' | 'clock' | 'config' | 'logger'> }) {
  return async (event: unknown): Promise<OnlineAgentsResult> => {
    try {
      const parsed = onlineAgentsEventSchema.safeParse(event);
      if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error));
      return { agents: await queryAgents(deps.ports, parsed.data) };
    } catch (error) {
      return errorReply(error, deps.ports.logger).body;
    }
  };
}
