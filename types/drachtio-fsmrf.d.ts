// The part of drachtio-fsmrf 4.1.2 (no types of its own) that the FreeSWITCH media mode uses.
declare module 'drachtio-fsmrf' {
  import type { EventEmitter } from 'node:events'
  import type Srf from 'drachtio-srf'

  namespace Mrf {
    interface ConnectOptions {
      /** ESL of FreeSWITCH */
      address: string
      port?: number
      secret?: string
      /** where fsmrf's outbound ESL server listens, and the address FreeSWITCH is told to connect back to */
      listenAddress?: string
      listenPort?: number
      advertisedAddress?: string
      profile?: string
    }
    interface NetworkConnection {
      sdp: string
      mediaIp?: string
      mediaPort?: string
    }
    interface Endpoint extends EventEmitter {
      readonly uuid: string
      /** FreeSWITCH's side of the endpoint (its SDP is what the far end gets) */
      local: NetworkConnection
      remote: NetworkConnection
      bridge(other: Endpoint | string): Promise<void>
      /** a re-INVITE to FreeSWITCH with the far end's new offer; `local.sdp` is then its new answer */
      modify(sdp: string): Promise<unknown>
      destroy(): Promise<void>
      /** a FreeSWITCH API command on the endpoint's ESL connection; resolves with the reply event */
      api(command: string, args?: string[] | string): Promise<{ getBody(): string }>
      on(event: 'destroy', listener: () => void): this
      on(event: 'dtmf', listener: (e: { dtmf: string; duration: string; source: string }) => void): this
    }
    interface MediaServer extends EventEmitter {
      createEndpoint(opts?: { remoteSdp?: string; codecs?: string | string[]; headers?: Record<string, string> }): Promise<Endpoint>
      connected(): boolean
      disconnect(): void
      /** the inbound ESL connection (drachtio-modesl): `esl::ready` again after a reconnect */
      readonly conn: EventEmitter
      on(event: 'end' | 'ready' | 'connect', listener: () => void): this
      on(event: 'error', listener: (err: Error) => void): this
    }
  }

  class Mrf {
    constructor(srf: Srf, opts?: { customEvents?: string[] })
    connect(opts: Mrf.ConnectOptions): Promise<Mrf.MediaServer>
  }
  export = Mrf
}
