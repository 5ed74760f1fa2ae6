import t from 'tap'
import type { Answer, ListenOptions } from '../../dialog/dialog-io.ts'
import type { KnowledgeAnswers, KnowledgeHit, SentenceMatch } from '../../dialog/knowledge/knowledge-base.ts'
import { ScenarioEngine } from '../../dialog/scenario/engine.ts'
import { parseScenario } from '../../dialog/scenario/loader.ts'
import type { ReplyResult } from './conversation.ts'
import { runScenarioDialog, type ScenarioDialogIO } from './scenario-dialog.ts'

const scenario = parseScenario(
  `
id: questions-only
languages: [ru]
start: questions
timezone: Europe/Moscow
phoneCountry: "7"
prompts:
  noInput: { ru: Не слышу вас. }
  noMatch: { ru: Не понял. }
  redirect: { ru: "Хороший вопрос, его передам менеджеру." }
  corrected: { ru: Поправил. }
intents:
  no: { ru: [нет, вопросов нет] }
steps:
  questions:
    type: faq
    prompt: { ru: Какие у вас вопросы? }
    followup: { ru: Что-нибудь ещё? }
    transitions:
      - { when: { intent: no }, to: bye }
    onClip: bye
    noInput: { limit: 0, then: bye }
    noMatch: { limit: 3, then: bye }
  bye:
    type: end
    prompt: { ru: До свидания! }
    outcome: qualified_lead
`,
  'questions-only.yaml',
)

/** The caller says each line in turn; what the bot says is recorded. */
function caller(lines: string[]): ScenarioDialogIO & { said: string[] } {
  const said: string[] = []
  return {
    said,
    async sayText(text: string): Promise<ReplyResult> {
      said.push(text)
      return 'played'
    },
    async say(key) {
      said.push(`<${key}>`)
      return true
    },
    async listen(_opts: ListenOptions): Promise<Answer> {
      const text = lines.shift()
      return text === undefined ? { kind: 'none' } : { kind: 'speech', startMs: 0, endMs: 1000, detectedMs: 1700, clipPath: 'clip.wav', text }
    },
    async transfer() {
      return false
    },
  }
}

const REFUND: KnowledgeHit = {
  chunkId: 7,
  documentId: 1,
  title: 'Складно: вопросы и ответы',
  heading: 'Возврат денег',
  score: 0.4,
  content: 'Если программа вам не подошла, напишите в поддержку в течение 30 дней после оплаты — мы вернём деньги за неиспользованные месяцы подписки.',
}

/** The knowledge base's two calls, answered from one chunk; `down` makes both fail. */
function material(down = false): KnowledgeAnswers & { asked: string[] } {
  const asked: string[] = []
  return {
    asked,
    async search(question: string): Promise<KnowledgeHit[]> {
      asked.push(question)
      if (down) throw new Error('connection refused')
      return /деньг/.test(question) ? [REFUND] : []
    },
    async matchSentences(_q: string, sentences: string[]): Promise<SentenceMatch[]> {
      return sentences.map(() => ({ matched: 2, asked: 3 }))
    },
  }
}

t.test('a question the scenario has no answer for is read out of the material', async (t) => {
  const io = caller(['можно вернуть деньги если не понравится', 'нет'])
  const kb = material()
  const result = await runScenarioDialog(io, new ScenarioEngine({ scenario, language: 'ru' }), { knowledge: kb })
  t.same(io.said, ['Какие у вас вопросы?', REFUND.content, 'Что-нибудь ещё?', 'До свидания!'])
  t.same(kb.asked, ['можно вернуть деньги если не понравится'])
  t.same(result.lead.answeredFromKnowledge, [
    { question: 'можно вернуть деньги если не понравится', document: REFUND.title, heading: 'Возврат денег', answer: REFUND.content },
  ])
  t.same(result.lead.questions, [], 'answered: not left for the seller')
  t.equal(result.lead.outcome, 'qualified_lead')
})

t.test('no material on it, or no knowledge base reachable: the polite redirect, and the seller gets the question', async (t) => {
  for (const kb of [material(), material(true), undefined]) {
    const io = caller(['какая у вас погода сегодня', 'нет'])
    const result = await runScenarioDialog(io, new ScenarioEngine({ scenario, language: 'ru' }), { knowledge: kb })
    t.same(io.said, ['Какие у вас вопросы?', 'Хороший вопрос, его передам менеджеру.', 'Что-нибудь ещё?', 'До свидания!'])
    t.same(result.lead.questions, ['какая у вас погода сегодня'])
    t.same(result.lead.answeredFromKnowledge, [])
  }
})

t.test("a transfer step hands its target's name to the call", async (t) => {
  const handOver = parseScenario(
    `
id: hand-over
languages: [en]
start: connect
prompts:
  noInput: { en: Sorry? }
  noMatch: { en: Sorry? }
  redirect: { en: I will pass it on. }
  corrected: { en: Corrected. }
steps:
  connect:
    type: transfer
    prompt: { en: Putting you through. }
    target: support
`,
    'hand-over.yaml',
  )
  const asked: Array<string | undefined> = []
  for (const accepted of [true, false]) {
    const io = { ...caller([]), transfer: async (_reason: string, target?: string) => (asked.push(target), accepted) }
    const result = await runScenarioDialog(io, new ScenarioEngine({ scenario: handOver, language: 'en' }))
    t.equal(result.outcome, accepted ? 'transferred' : 'lead')
  }
  t.same(asked, ['support', 'support'])
})
