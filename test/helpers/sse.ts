/** A server-sent events reader for tests: fetch with a streaming body, frames parsed as EventSource parses them. */
import { waitFor } from './events.ts';

export interface SseFrame {
  readonly event: string;
  readonly id?: string;
  readonly data: string;
}

export interface SseStream {
  readonly status: number;
  readonly headers: Headers;
  /** Frames received so far (comments and `retry` lines are not frames). */
  readonly frames: SseFrame[];
  /** Comment lines received so far (without the colon). */
  readonly comments: string[];
  /** Whether the server ended the stream. */
  readonly ended: () => boolean;
  /** Waits until `pred` holds for the frames (60 s). */
  until(pred: (frames: readonly SseFrame[]) => boolean, what: string): Promise<void>;
  close(): void;
}

/** Opens `url` and reads it as `text/event-stream` in the background. A non-200 answer is read whole. */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: abort.signal,
  });
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  let ended = false;
  if (response.status === 200 && response.body !== null) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      let buffer = '';
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          buffer += value;
          for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            let id: string | undefined;
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) comments.push(line.slice(1).trim());
              else if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('id: ')) id = line.slice(4);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length > 0)
              frames.push({ event, ...(id === undefined ? {} : { id }), data: data.join('\n') });
          }
        }
      } catch {
        // Aborted by close().
      }
      ended = true;
    })();
  }
  return {
    status: response.status,
    headers: response.headers,
    frames,
    comments,
    ended: () => ended,
    until: (pred, what) => waitFor(() => pred(frames), what, 60_000),
    close: () => abort.abort(),
  };
}
