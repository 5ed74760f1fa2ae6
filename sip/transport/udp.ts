import dgram from 'node:dgram'
import { isIPv6 } from 'node:net'

/** The SIP UDP listener: one socket, datagrams in and out, nothing else. */
export class UdpTransport {
  private socket: dgram.Socket | undefined

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly onDatagram: (buf: Buffer, address: string, port: number) => void,
  ) {}

  /** port 0: the OS picks one at each listen() */
  get ephemeral(): boolean {
    return this.port === 0
  }

  async listen(): Promise<number> {
    const socket = dgram.createSocket({ type: isIPv6(this.host) ? 'udp6' : 'udp4', reuseAddr: false })
    this.socket = socket
    socket.on('message', (buf, rinfo) => this.onDatagram(buf, rinfo.address, rinfo.port))
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(this.port, this.host, () => {
        socket.off('error', reject)
        resolve()
      })
    })
    // A send error (ICMP unreachable surfaced later, EPERM) must never kill the process.
    socket.on('error', () => {})
    return socket.address().port
  }

  send(buf: Buffer, address: string, port: number): void {
    this.socket?.send(buf, port, address)
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.socket ? this.socket.close(() => resolve()) : resolve()))
  }
}
