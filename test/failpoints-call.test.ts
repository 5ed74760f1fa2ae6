// Issue 13: a throw at each failpoint of playout, the recording, the SIP event handlers and the
// dialog ends that one call cleanly while another carries on (see failpointCase).
import t from 'tap'
import { failpointCase } from './helpers/fault-server.ts'

for (const point of ['clock.after', 'recording', 'sip.event', 'dialog']) failpointCase(t, point)
