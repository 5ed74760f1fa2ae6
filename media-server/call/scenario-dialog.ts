// Scenario mode: the YAML scenario engine (dialog/scenario/engine.ts) driven over a call. The engine
// decides what to say and what to listen for; this loop turns its actions into speech and listens,
// and feeds what the caller did back to it, until the engine hangs up or transfers.
import type { Logger } from 'pino'
import type { Answer, ListenOptions, ScenarioIO, ScenarioResult } from '../../dialog/dialog-io.ts'
import type { Action, ScenarioEngine, SlotValue } from '../../dialog/scenario/engine.ts'
import type { Outcome } from '../../dialog/scenario/schema.ts'
import type { KnowledgeAnswers } from '../../dialog/knowledge/knowledge-base.ts'
import { spokenAnswer } from '../../dialog/knowledge/spoken-answer.ts'
import type { ReplyResult } from './conversation.ts'

/** The media side of a scenario call. */
export interface ScenarioDialogIO extends ScenarioIO {
  /** Speak a rendered prompt through the TTS provider; 'interrupted' on barge-in. */
  sayText(text: string, opts: { interruptible: boolean; step: string; fallback?: string }): Promise<ReplyResult>
  /** Hand the caller to the step's target (SIP REFER); false when there is none or it failed. */
  transfer(reason: string, target?: string): Promise<boolean>
}

export interface ScenarioDialogOptions {
  logger?: Logger
  /** questions the scenario has no FAQ entry for are answered from the material when it has one */
  knowledge?: KnowledgeAnswers
}

/** What the lead record gets from a scenario call. */
export interface ScenarioLead {
  /** the engine's slots: normalised value, what was said or typed, display form, clip path */
  slots: Record<string, SlotValue>
  /** answers kept only as recordings (no recogniser), by slot */
  clips: Record<string, string>
  /** the scenario's outcome (qualified_lead, callback_booked, ...), or why the call ended without one */
  outcome: Outcome | 'caller-hangup' | 'tts-failed' | 'no-scenario'
  /** questions neither the scenario nor the knowledge base could answer, for the seller */
  questions: string[]
  /** questions answered by reading out the knowledge base, and from where */
  answeredFromKnowledge: Array<{ question: string; document: string; heading: string; answer: string }>
}

export interface ScenarioDialogResult extends ScenarioResult {
  lead: ScenarioLead
}

type Listen = Extract<Action, { type: 'listen' }>

/**
 * Runs the engine to its end. A barge-in during a prompt skips the rest of the prompts up to the
 * next listen (the listener already hears what the caller is saying). A transfer that cannot be
 * made (no seller configured, REFER refused) ends politely: the seller calls the lead back.
 */
export async function runScenarioDialog(io: ScenarioDialogIO, engine: ScenarioEngine, opts: ScenarioDialogOptions = {}): Promise<ScenarioDialogResult> {
  const answers: Record<string, Answer> = {}
  const slots: Record<string, SlotValue> = {}
  let engineOutcome: Outcome | undefined
  const answeredFromKnowledge: ScenarioLead['answeredFromKnowledge'] = []
  const result = (outcome: ScenarioResult['outcome'], leadOutcome?: ScenarioLead['outcome']): ScenarioDialogResult => {
    const clips: Record<string, string> = {}
    for (const [name, s] of Object.entries(slots)) if (s.clip) clips[name] = s.clip
    const answered = new Set(answeredFromKnowledge.map((a) => a.question))
    const questions = engine.state.questions.filter((q) => !answered.has(q))
    const lead = { slots, clips, outcome: leadOutcome ?? engineOutcome ?? 'caller-hangup', questions, answeredFromKnowledge }
    return { outcome, answers, lead }
  }
  /** The redirect for a question the scenario cannot answer becomes the material's answer, if any. */
  const redirectOrAnswer = async (redirect: string): Promise<string> => {
    const question = engine.state.questions.at(-1)
    if (!opts.knowledge || !question) return redirect
    try {
      const found = await spokenAnswer(opts.knowledge, question)
      if (!found) return redirect
      answeredFromKnowledge.push({ question, document: found.hit.title, heading: found.hit.heading, answer: found.text })
      opts.logger?.info({ question, document: found.hit.title, heading: found.hit.heading }, 'question answered from the knowledge base')
      return found.text
    } catch (err) {
      opts.logger?.warn({ err }, 'knowledge base not reachable; the question goes to the seller')
      return redirect
    }
  }

  const queue = engine.start()
  let interrupted = false
  for (let action = queue.shift(); action; action = queue.shift()) {
    switch (action.type) {
      case 'say': {
        if (interrupted) break
        const text = action.prompt === 'redirect' ? await redirectOrAnswer(action.text) : action.text
        const said = await io.sayText(text, { interruptible: action.interruptible, step: action.step, ...(action.fallback && { fallback: action.fallback }) })
        if (said === 'interrupted') interrupted = true
        if (said === 'failed') {
          opts.logger?.error({ step: action.step }, 'scenario prompt could not be spoken; ending the call')
          await io.say('apology', { interruptible: false })
          return result('lead', engineOutcome ?? 'tts-failed')
        }
        break
      }
      case 'listen': {
        interrupted = false
        const answer = await io.listen(listenOptions(action))
        if (answer.kind === 'hangup') return result('caller-hangup')
        answers[action.slot ?? action.step] = answer
        queue.push(...feed(engine, answer))
        break
      }
      case 'saveSlot':
        slots[action.name] = action.slot
        break
      case 'setOutcome':
        engineOutcome = action.outcome
        break
      case 'transfer':
        if (await io.transfer(`scenario transfer to ${action.target}`, action.target)) return result('transferred')
        await io.say('thanks')
        return result('lead', 'qualified_lead')
      case 'hangup':
        return result(engineOutcome === 'no_answer' ? 'no-input' : 'lead')
    }
  }
  // the engine always ends a batch with a listen, a transfer or a hang-up; this is a safety net
  opts.logger?.warn({ step: engine.state.step }, 'scenario engine stopped without ending the call')
  return result('lead')
}

function listenOptions(a: Listen): ListenOptions {
  return {
    digits: !!a.dtmf,
    ...(a.dtmf && { maxDigits: a.dtmf.maxDigits, terminator: a.dtmf.terminator }),
    slot: a.slot ?? a.step,
    turn: {
      endSilenceMs: a.endSilenceMs,
      maxUtteranceMs: a.maxUtteranceMs,
      noInputMs: a.noInputMs,
      ...(a.dtmf && { interDigitMs: a.dtmf.interDigitMs }),
    },
  }
}

/** What the caller did, as the engine hears it. */
function feed(engine: ScenarioEngine, answer: Exclude<Answer, { kind: 'hangup' }>): Action[] {
  switch (answer.kind) {
    case 'speech':
      return answer.text ? engine.onUtterance(answer.text) : engine.onClip(answer.clipPath)
    case 'digits':
      return engine.onDtmf(answer.digits)
    case 'none':
      return engine.onNoInput()
  }
}
