import type Srf from 'drachtio-srf'
import { parseDatagram } from '../message/parse.ts'
import { serialize } from '../message/serialize.ts'
import type { Remote, SipRequest, SipResponse } from '../message/types.ts'

/** What drachtio-server lets an application set on a request outside a dialog; it writes Via,
 *  Max-Forwards and Content-Length itself, and the route is its `proxy` option. */
const CARRIED = new Set(['from', 'to', 'call-id', 'cseq', 'contact', 'expires', 'user-agent', 'authorization', 'proxy-authorization'])

/**
 * One request outside any dialog (a trunk's REGISTER) sent through drachtio-server to `remote`,
 * built by our own code (the digest answers are the REGISTER client's) and its final response
 * parsed by our parser. drachtio-server runs the transaction: the 408 it makes up when Timer F
 * fires is our 'timeout'.
 */
export function requestOutsideDialog(srf: Srf, rq: SipRequest, remote: Remote): Promise<SipResponse | 'timeout'> {
  const headers: Record<string, string> = {}
  for (const line of serialize(rq).toString('latin1').split('\r\n').slice(1)) {
    if (!line) break
    const colon = line.indexOf(':')
    const name = line.slice(0, colon)
    if (CARRIED.has(name.toLowerCase())) headers[name] = line.slice(colon + 1).trim()
  }
  const transport = remote.protocol === 'UDP' ? '' : `;transport=${remote.protocol.toLowerCase()}`
  const proxy = `sip:${remote.address.includes(':') ? `[${remote.address}]` : remote.address}:${remote.port}${transport}`
  return new Promise((resolve, reject) => {
    // drachtio-srf's typings declare the options as a whole request and the callback's request as sent; both are looser
    const send = srf.request as unknown as (
      uri: string,
      opts: { method: string; headers: Record<string, string>; proxy: string },
      cb: (err: Error | null, req: Srf.SrfRequest) => void,
    ) => void
    send.call(srf, rq.uri, { method: rq.method, headers, proxy }, (err, req) => {
      if (err) return reject(err)
      req.on('response', (res) => {
        if (!res || res.status < 200) return
        if (res.status === 408) return resolve('timeout')
        const parsed = parseDatagram(Buffer.from((res as unknown as { raw: string }).raw, 'latin1'))
        if (parsed.kind === 'message' && 'status' in parsed.message) resolve(parsed.message)
        else reject(new Error(`drachtio-server passed a response our parser refuses: ${res.status}`))
      })
    })
  })
}
