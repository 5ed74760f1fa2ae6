// A caller who asks not to be called again, on an inbound call in LLM agent mode (SIPp calls, the
// local chat-completions server ends the call with end_call outcome do_not_call): the lead says so
// and the caller's number joins the do-not-call list that every campaign consults before an INVITE.
import t from 'tap'
import { llmCall } from './helpers/llm-call.ts'

t.test('"do not call me" on any call puts the number on the do-not-call list', async (t) => {
  const { call, server } = await llmCall(t, { firstTokenDelayMs: 0, replyBudgetMs: 8000, endOutcome: 'do_not_call' })
  t.equal(call.lead?.outcome, 'do_not_call')
  const list = (await server.api('/api/do-not-call')).body.numbers
  t.match(
    list,
    [{ phone: '+79161234567', reason: 'asked during a call', callId: call.id }],
    "the caller's number (From: 79161234567) is on the list, in the campaigns' +7 form, with the call",
  )
})
