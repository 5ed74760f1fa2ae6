// Issue 13: a throw at each failpoint of the media path (RTP and RTCP packets in, the RTCP timer,
// the send phase, the media worker itself) ends that one call cleanly while another carries on.
import t from 'tap'
import { failpointCase } from './helpers/fault-server.ts'

for (const point of ['rtp.packet', 'rtcp.packet', 'rtcp.timer', 'clock.tick']) failpointCase(t, point)
// a media worker thread dies: its call ends, the other call (on the other worker) goes on
failpointCase(t, 'media-worker.crash', 'media-worker')
