import { describe, expect, it } from 'vitest'
import { readEventStream, SseParser, type SseEvent } from '../src/api/sse'

function parse(chunks: string[]): SseEvent[] {
  const out: SseEvent[] = []
  const p = new SseParser((e) => out.push(e))
  for (const c of chunks) p.push(c)
  p.end()
  return out
}

/** Every way of cutting `text` in two. */
function everySplit(text: string): string[][] {
  return Array.from({ length: text.length + 1 }, (_, i) => [text.slice(0, i), text.slice(i)])
}

describe('SSE parser', () => {
  it('separates events at blank lines and reads their type and data', () => {
    expect(parse(['event: progress\ndata: {"a":1}\n\nevent: progress\ndata: {"a":2}\n\n'])).toEqual([
      { event: 'progress', data: '{"a":1}', id: null },
      { event: 'progress', data: '{"a":2}', id: null },
    ])
  })

  it('joins multi-line data with \\n and defaults the type to "message"', () => {
    expect(parse(['data: first\ndata:second\ndata:  third\n\n'])).toEqual([
      { event: 'message', data: 'first\nsecond\n third', id: null },
    ])
  })

  it('ignores comment lines, unknown fields and events without data', () => {
    expect(parse([': keep-alive\n\nretry: 1000\nfoo: bar\n\nevent: progress\n: note\ndata: x\n\n'])).toEqual([
      { event: 'progress', data: 'x', id: null },
    ])
  })

  it('tolerates CRLF and lone CR line ends', () => {
    expect(parse(['event: progress\r\ndata: a\r\n\r\nevent: progress\rdata: b\r\r'])).toEqual([
      { event: 'progress', data: 'a', id: null },
      { event: 'progress', data: 'b', id: null },
    ])
  })

  it('gives the same events however the text is split into chunks', () => {
    const text = 'event: progress\r\ndata: {"job":1}\r\n\r\n: c\nevent: progress\ndata: {"job":2}\n\n'
    const whole = parse([text])
    expect(whole.map((e) => e.data)).toEqual(['{"job":1}', '{"job":2}'])
    for (const chunks of everySplit(text)) expect(parse(chunks), JSON.stringify(chunks)).toEqual(whole)
    // One character at a time.
    expect(parse(text.split(''))).toEqual(whole)
  })

  it('drops an event the stream ends in the middle of, and a leading BOM', () => {
    expect(parse(['\uFEFFevent: progress\ndata: done\n\nevent: progress\ndata: cut'])).toEqual([
      { event: 'progress', data: 'done', id: null },
    ])
  })

  it('remembers the last id', () => {
    expect(parse(['id: 7\ndata: a\n\ndata: b\n\n']).map((e) => e.id)).toEqual(['7', '7'])
  })
})

describe('readEventStream', () => {
  it('decodes UTF-8 split across byte chunks', async () => {
    const bytes = new TextEncoder().encode('event: progress\ndata: "héllo ✓"\n\n')
    const cut = bytes.indexOf(0xc3) + 1 // inside the two bytes of "é"
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes.slice(0, cut))
        c.enqueue(bytes.slice(cut, cut + 20))
        c.enqueue(bytes.slice(cut + 20))
        c.close()
      },
    })
    const out: SseEvent[] = []
    await readEventStream(body, (e) => out.push(e))
    expect(out).toEqual([{ event: 'progress', data: '"héllo ✓"', id: null }])
  })

  it('cancels the body and rejects when aborted', async () => {
    let cancelled = false
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('data: 1\n\n'))
      },
      cancel() {
        cancelled = true
      },
    })
    const ac = new AbortController()
    const seen: string[] = []
    const done = readEventStream(
      body,
      (e) => {
        seen.push(e.data)
        ac.abort()
      },
      ac.signal,
    )
    await expect(done).rejects.toMatchObject({ name: 'AbortError' })
    expect(seen).toEqual(['1'])
    expect(cancelled).toBe(true)
  })
})
