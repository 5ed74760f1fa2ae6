// Where a capture's late packets are: each RTP interval off by more than OUTLIER_MS, with its time
// from the stream's first packet and the marker bit (a prompt's start), to tell periodic stalls
// (timers, reports) from ones tied to what the call does.
//   node --import tsx test/load/outliers.ts /tmp/voice-loadtest-last.pcap [minMs]
import { readFileSync } from 'node:fs'
import { parsePcap } from '../helpers/capture.ts'
import { rtpPackets } from '../helpers/rtp-analysis.ts'

const file = process.argv[2] ?? '/tmp/voice-loadtest-last.pcap'
const minMs = Number(process.argv[3] ?? 2)
const rtp = rtpPackets(parsePcap(readFileSync(file)), () => true)
const bySsrc = new Map<number, typeof rtp>()
for (const p of rtp) bySsrc.set(p.ssrc, [...(bySsrc.get(p.ssrc) ?? []), p])
for (const [ssrc, s] of bySsrc) {
  for (let i = 1; i < s.length; i++) {
    const err = s[i].t - s[i - 1].t - 20
    if (Math.abs(err) >= minMs) console.log(`${ssrc.toString(16)} t=${(s[i].t - s[0].t).toFixed(1)} ms err=${err.toFixed(2)} marker=${s[i].marker}`)
  }
}
