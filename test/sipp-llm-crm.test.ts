// LLM agent mode with Bitrix24 on, end to end: the caller the CRM knows (SIPp calls from
// 79161234567, a lead with that number on the local test portal) is looked up as the call starts,
// and the agent is told who they are; the finished call lands on that lead.
import t from 'tap'
import { FakePortal } from '../crm/bitrix24/fake-portal.ts'
import { llmCall } from './helpers/llm-call.ts'

t.test('a caller the CRM knows: the agent is told their name and lead; the call lands on that lead', async (t) => {
  const portal = new FakePortal()
  await portal.start()
  t.teardown(() => portal.stop())
  portal.leads.push({ ID: 1, ASSIGNED_BY_ID: 1, NAME: 'Анна', COMPANY_TITLE: 'Ромашка', STATUS_ID: 'IN_PROCESS', PHONE: [{ VALUE: '79161234567' }] })
  const { call, llm } = await llmCall(t, { firstTokenDelayMs: 0, replyBudgetMs: 8000, env: { BITRIX24_WEBHOOK_URL: portal.url } })
  const system = llm.requests[0]?.messages.find((m) => m.role === 'system')?.content ?? ''
  t.match(system, /лид 1: Анна, компания Ромашка/, 'the known caller is among the facts of the first request')
  t.equal(portal.calls[0]?.method, 'batch', 'looked up before the first reply')
  // the outbox delivers the call (after the summary's 20 s in LLM mode) to the same lead
  for (const end = Date.now() + 40_000; !portal.comments.length && Date.now() < end;) await new Promise((r) => setTimeout(r, 200))
  t.equal(portal.leads.length, 1, 'no new lead')
  t.match(portal.comments, [{ ENTITY_ID: 1, COMMENT: new RegExp(`voice call ${call.id}`) }])
})
