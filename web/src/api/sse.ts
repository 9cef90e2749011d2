// Server-sent events over fetch (so the token travels in the Authorization header, never in
// the URL): an incremental parser of the `text/event-stream` format and a reader that feeds a
// response body through it.
//
// The framing (https://html.spec.whatwg.org/multipage/server-sent-events.html): lines end
// with LF, CRLF or CR; a blank line dispatches the event; `event:` sets its type (default
// "message"), `data:` lines are joined with "\n", a line starting with ":" is a comment; one
// space after the colon is dropped; a field without a colon has an empty value. An event
// without data lines is not dispatched, and an unfinished event at the end of the stream is
// dropped. Chunks may split the text anywhere (even between CR and LF, or inside a UTF-8
// sequence when reading bytes).

export interface SseEvent {
  /** The event type: the last `event:` value, or "message". */
  event: string
  /** The `data:` lines joined with "\n". */
  data: string
  /** The last `id:` seen on the stream, if any. */
  id: string | null
}

export class SseParser {
  private pending = ''
  private afterCR = false
  private started = false
  private eventType = ''
  private dataLines: string[] = []
  private lastId: string | null = null

  constructor(private readonly onEvent: (event: SseEvent) => void) {}

  /** Feeds the next piece of text. */
  push(chunk: string): void {
    let text = chunk
    if (!this.started && text.length > 0) {
      this.started = true
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    }
    // A CRLF split across two chunks: the CR already ended the line.
    if (this.afterCR && text.startsWith('\n')) text = text.slice(1)
    this.afterCR = false
    const buf = this.pending + text
    let start = 0
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      const line = buf.slice(start, i)
      if (c === 13) {
        if (i + 1 < buf.length) {
          if (buf.charCodeAt(i + 1) === 10) i++
        } else {
          this.afterCR = true
        }
      }
      start = i + 1
      this.line(line)
    }
    this.pending = buf.slice(start)
  }

  /** The stream ended: an event without its blank line is dropped. */
  end(): void {
    this.pending = ''
    this.afterCR = false
    this.eventType = ''
    this.dataLines = []
  }

  private line(line: string) {
    if (line === '') {
      this.dispatch()
      return
    }
    if (line.startsWith(':')) return
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    switch (field) {
      case 'event':
        this.eventType = value
        break
      case 'data':
        this.dataLines.push(value)
        break
      case 'id':
        if (!value.includes('\0')) this.lastId = value
        break
      default:
        // `retry` and unknown fields: nothing to do here.
        break
    }
  }

  private dispatch() {
    const type = this.eventType
    const lines = this.dataLines
    this.eventType = ''
    this.dataLines = []
    if (lines.length === 0) return
    this.onEvent({ event: type || 'message', data: lines.join('\n'), id: this.lastId })
  }
}

/**
 * Reads an event stream body to its end, calling `onEvent` for every event. Resolves when the
 * body ends; rejects when reading fails or `signal` aborts (the body is cancelled then).
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: SseEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  const reader = body.getReader()
  const decoder = new TextDecoder('utf-8')
  const parser = new SseParser(onEvent)
  const onAbort = () => {
    reader.cancel().catch(() => {})
  }
  if (signal) {
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  }
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (signal?.aborted) throw new DOMException('The event stream was aborted.', 'AbortError')
      if (done) break
      if (value) parser.push(decoder.decode(value, { stream: true }))
    }
    parser.push(decoder.decode())
    parser.end()
  } finally {
    signal?.removeEventListener('abort', onAbort)
    try {
      reader.releaseLock()
    } catch {
      // already released
    }
  }
}
