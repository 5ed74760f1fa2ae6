// A trunk's configuration for tests: what media-server/trunk-config.ts would make of a minimal entry
// (no login, no limits, no outbound proxy), with the fields a test cares about given.
import type { TrunkConfig } from '../../sip/trunks/trunk.ts'

export function testTrunk(over: Partial<TrunkConfig> = {}): TrunkConfig {
  return {
    name: 'carrier',
    host: 'sip.carrier.invalid',
    port: 5060,
    transport: 'udp',
    username: '',
    password: '',
    realm: '',
    domain: 'carrier.ru',
    callerId: '74950001122',
    allowPrefixes: [],
    channels: 0,
    cps: 0,
    outboundProxy: '',
    register: false,
    expires: 300,
    ...over,
  }
}
