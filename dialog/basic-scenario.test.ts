import t from 'tap'
import { runBasicScenario, type Answer, type ScenarioIO } from './basic-scenario.ts'
import type { PromptKey } from './prompts.ts'

/** A scripted caller: answers each listen() from a list and records what the bot said. */
function scripted(replies: Answer[]) {
  const said: PromptKey[] = []
  const slots: string[] = []
  const io: ScenarioIO = {
    async say(p) {
      said.push(p)
      return true
    },
    async listen(o) {
      slots.push(o.slot + (o.digits ? '#' : ''))
      return replies.shift() ?? { kind: 'none' }
    },
  }
  return { io, said, slots }
}

const speech = (clipPath: string): Answer => ({ kind: 'speech', startMs: 0, endMs: 1000, detectedMs: 1700, clipPath })

t.test('a caller who answers everything becomes a lead', async (t) => {
  const s = scripted([speech('name.wav'), speech('need.wav'), { kind: 'digits', digits: '79161234567', atMs: 9000 }])
  const r = await runBasicScenario(s.io)
  t.equal(r.outcome, 'lead')
  t.same(s.said, ['greeting', 'askNeed', 'askPhone', 'thanks'])
  t.same(s.slots, ['name', 'need', 'phone#'])
  t.same(r.answers.phone, { kind: 'digits', digits: '79161234567', atMs: 9000 })
})

t.test('silence gets one reprompt, then the scenario moves on', async (t) => {
  const s = scripted([{ kind: 'none' }, speech('name.wav'), { kind: 'none' }, { kind: 'none' }, speech('phone.wav')])
  const r = await runBasicScenario(s.io)
  t.same(s.said, ['greeting', 'reprompt', 'askNeed', 'reprompt', 'askPhone', 'thanks'])
  t.equal(r.outcome, 'lead')
  t.same(r.answers.need, { kind: 'none' })
})

t.test('a caller who never speaks is told goodbye, not filed as a lead', async (t) => {
  const s = scripted([])
  const r = await runBasicScenario(s.io)
  t.equal(r.outcome, 'no-input')
  t.equal(s.said.at(-1), 'goodbyeNoInput')
})

t.test('a hang-up stops the scenario at once', async (t) => {
  const s = scripted([speech('name.wav'), { kind: 'hangup' }])
  const r = await runBasicScenario(s.io)
  t.equal(r.outcome, 'caller-hangup')
  t.same(s.said, ['greeting', 'askNeed'])
})
