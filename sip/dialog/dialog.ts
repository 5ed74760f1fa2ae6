import { randomBytes } from 'node:crypto'
import type { NameAddr, Remote, SipRequest } from '../message/types.ts'

export function newTag(): string {
  return randomBytes(6).toString('hex')
}

export function newBranch(): string {
  return 'z9hG4bK' + randomBytes(8).toString('hex')
}

/** Our own address as written into Via and Contact. */
export interface LocalAddress {
  host: string
  port: number
  /** SIP over TLS listens here (SIP_TLS_PORT), when it does */
  tlsPort?: number
}

/** Our port for a transport: TLS has its own. */
export function localPort(local: LocalAddress, protocol: Remote['protocol']): number {
  return protocol === 'TLS' && local.tlsPort ? local.tlsPort : local.port
}

/**
 * A dialog seen from the UAS side (RFC 3261 §12.1.1): created from the INVITE we answer,
 * it builds the requests we send inside it (BYE) and checks the ones the peer sends.
 */
export class Dialog {
  readonly callId: string
  readonly localTag: string
  readonly remoteTag: string
  readonly localUri: NameAddr
  readonly remoteUri: NameAddr
  readonly remoteTarget: string
  readonly routeSet: NameAddr[]
  private localSeq: number
  remoteSeq: number

  constructor(
    invite: SipRequest,
    readonly remote: Remote,
    localTag: string,
    private readonly local: LocalAddress,
    /** the CSeq number last used on our side: a UAC dialog goes on from its INVITE's (§12.1.2) */
    localSeq?: number,
  ) {
    const h = invite.headers
    this.callId = h['call-id']
    this.localTag = localTag
    this.remoteTag = h.from.params.tag ?? ''
    this.localUri = { name: h.to.name, uri: h.to.uri, params: { ...h.to.params, tag: localTag } }
    this.remoteUri = { name: h.from.name, uri: h.from.uri, params: { ...h.from.params } }
    const contact = Array.isArray(h.contact) ? h.contact[0] : undefined
    this.remoteTarget = contact?.uri ?? h.from.uri
    this.routeSet = Array.isArray(h['record-route']) ? [...(h['record-route'] as NameAddr[])] : []
    this.remoteSeq = h.cseq.seq
    this.localSeq = localSeq ?? Math.floor(Math.random() * 10_000) + 1
  }

  /** The CSeq number of the last request we sent in this dialog. */
  get lastLocalSeq(): number {
    return this.localSeq
  }

  get id(): string {
    return dialogId(this.callId, this.localTag, this.remoteTag)
  }

  contact(): NameAddr[] {
    const transport = this.remote.protocol === 'UDP' ? '' : `;transport=${this.remote.protocol.toLowerCase()}`
    return [{ uri: `sip:agent@${hostForUri(this.local.host)}:${localPort(this.local, this.remote.protocol)}${transport}`, params: {} }]
  }

  /** A new request inside the dialog (§12.2.1.1). */
  createRequest(method: string, body = '', contentType?: string): SipRequest {
    const headers: SipRequest['headers'] = {
      via: [
        {
          version: '2.0',
          protocol: this.remote.protocol,
          host: hostForUri(this.local.host),
          port: localPort(this.local, this.remote.protocol),
          params: { branch: newBranch(), rport: null },
        },
      ],
      'max-forwards': '70',
      from: { ...this.localUri, params: { ...this.localUri.params } },
      to: { ...this.remoteUri, params: { ...this.remoteUri.params } },
      'call-id': this.callId,
      cseq: { seq: ++this.localSeq, method },
      contact: this.contact(),
    }
    if (this.routeSet.length) headers.route = this.routeSet
    if (contentType) headers['content-type'] = contentType
    return { method, uri: this.remoteTarget, version: '2.0', headers, content: body }
  }
}

export function dialogId(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`
}

export function hostForUri(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}
