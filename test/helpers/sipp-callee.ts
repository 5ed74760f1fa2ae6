// Pieces of the SIPp callee scenarios (test/sipp/uas-callee*.xml) that tests fill in.

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
