// Types for the xk6-sse extension (github.com/phymbert/xk6-sse), which has no published typings.
// Mirrors its sse.go: sse.open blocks the VU until the stream ends; callbacks run on the VU's thread.
declare module 'k6/x/sse' {
  export interface SseParams {
    method?: string;
    body?: string;
    headers?: Record<string, string>;
    tags?: Record<string, string>;
  }
  export interface SseEvent {
    id: string;
    comment: string;
    name: string;
    data: string;
  }
  export interface SseError {
    error(): string;
  }
  export interface SseClient {
    on(event: 'open', handler: () => void): void;
    on(event: 'event', handler: (event: SseEvent) => void): void;
    on(event: 'error', handler: (error: SseError) => void): void;
    close(): void;
  }
  /** status 0 and a non-empty error when no response arrived. */
  export interface SseResponse {
    url: string;
    status: number;
    headers: Record<string, string>;
    error: string;
  }
  const sse: {
    open(url: string, params: SseParams, setup: (client: SseClient) => void): SseResponse;
  };
  export default sse;
}
