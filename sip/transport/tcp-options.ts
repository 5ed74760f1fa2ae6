/**
 * Limits on SIP TCP connections. The defaults follow Kamailio: tcp_connection_lifetime 120 s
 * (a connection that carried nothing for that long is closed) and tcp_max_connections 2048;
 * per source address we allow 64, enough for a PBX or an SBC that opens a connection per trunk
 * or per registration, and few enough that one host cannot take every slot.
 */
export interface TcpOptions {
  /** Close a connection after this long without a byte either way, unless a dialog uses it. */
  idleTimeoutMs: number
  /** Connections open at once, accepted and opened by us together. */
  maxConnections: number
  /** Connections open at once from one remote address. */
  maxPerSource: number
}

/** SIP_TCP_IDLE_TIMEOUT_S, SIP_TCP_MAX_CONNECTIONS, SIP_TCP_MAX_PER_SOURCE replace them (media-server/config.ts). */
export const DEFAULT_TCP_OPTIONS: TcpOptions = { idleTimeoutMs: 120_000, maxConnections: 2048, maxPerSource: 64 }
