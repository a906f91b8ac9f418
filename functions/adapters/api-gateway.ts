/** The `@connections` management API. The endpoint comes from config (the stage's callback URL). */
import {
  type ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { ConnectionGoneError } from '#app/errors.ts';
import type { ConnectionGateway } from '#app/ports.ts';

export interface ApiGatewayOptions {
  client: ApiGatewayManagementApiClient;
  /** A post that hangs is abandoned after this long, so one slow client never stalls a fan-out. */
  requestTimeoutMs: number;
}

/** The v3 SDK throws GoneException (HTTP 410); match by name, not status code. */
function isGone(error: unknown): boolean {
  return error instanceof Error && error.name === 'GoneException';
}

export class ApiGatewayConnectionGateway implements ConnectionGateway {
  private readonly client: ApiGatewayManagementApiClient;
  private readonly requestTimeoutMs: number;

  constructor(options: ApiGatewayOptions) {
    this.client = options.client;
    this.requestTimeoutMs = options.requestTimeoutMs;
  }

  async post(connectionId: string, message: unknown): Promise<void> {
    await this.call(connectionId, () =>
      this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: JSON.stringify(message) }), {
        abortSignal: AbortSignal.timeout(this.requestTimeoutMs),
      }),
    );
  }

  async delete(connectionId: string): Promise<void> {
    await this.call(connectionId, () =>
      this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }), {
        abortSignal: AbortSignal.timeout(this.requestTimeoutMs),
      }),
    );
  }

  private async call(connectionId: string, send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
    } catch (error) {
      if (isGone(error)) throw new ConnectionGoneError(connectionId, { cause: error });
      throw error;
    }
  }
}
