import type { AudioCodec } from './codec.ts';
import { PcmaCodec } from './pcma.ts';
import { PcmuCodec } from './pcmu.ts';

export type { AudioCodec } from './codec.ts';

export type CodecName = 'PCMU' | 'PCMA';

/** Creates a codec instance by its SDP encoding name. */
export function createCodec(name: CodecName): AudioCodec {
  switch (name) {
    case 'PCMU':
      return new PcmuCodec();
    case 'PCMA':
      return new PcmaCodec();
    default:
      // Reachable from untyped callers (config files, SDP); keeps the failure explicit.
      throw new Error(`unsupported codec: ${String(name)}`);
  }
}
