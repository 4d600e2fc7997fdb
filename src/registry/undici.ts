/**
 * The parts of undici the tool uses: the connection-pooling Agent and its `request`. Loaded from
 * their own modules, not undici's index, which evaluates all of undici (fetch, WebSocket, caches,
 * mocks, proxies) on import and was the largest single cost of starting a verify. undici 7 has no
 * `exports` map, so these paths are its public files; the types are undici's own.
 */
import type { Dispatcher, Agent as UndiciAgentType } from 'undici';
import UndiciAgent from 'undici/lib/dispatcher/agent.js';
import undiciRequest from 'undici/lib/api/api-request.js';

export const Agent: typeof UndiciAgentType = UndiciAgent;
export type Agent = UndiciAgentType;

/** `dispatcher.request(options)`: undici's index adds it to every dispatcher; without the index it is called on one. */
export function request(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return undiciRequest.call(dispatcher, options);
}
