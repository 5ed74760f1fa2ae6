import type http from 'node:http'

/** The body, or undefined once more than max bytes arrived (the rest is drained, not buffered). */
export async function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = []
  let size = 0
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length
    if (size > max) {
      req.resume()
      return undefined
    }
    parts.push(part)
  }
  return Buffer.concat(parts)
}
