// Pieces of the SIPp callee scenarios (test/sipp/uas-callee*.xml) that tests fill in.
import { renderScenario } from './scenario-file.ts'

/** A 180 Ringing from the callee, then a pause of `ms` before what the scenario does next. */
export function ringingFor(ms: number): string {
  return `
  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:callee@[local_ip]:[local_port]>
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="${ms}" />`
}

/**
 * uas-callee.xml as a campaign's phones: rings for `ringMs`, answers PCMU, checks that From is
 * the campaigns' caller id 74950000000, hangs up after `hangUpAfterMs`; written into `dir`.
 */
export function answeringCallee(dir: string, ringMs: number, hangUpAfterMs: number): string {
  return renderScenario('uas-callee.xml', dir, {
    ANSWER_PT: 0,
    ANSWER_CODEC: 'PCMU',
    CALLER_ID: '74950000000',
    CHALLENGE: '',
    PROVISIONAL: ringingFor(ringMs),
    HANG_UP_AFTER_MS: hangUpAfterMs,
  })
}
