// The scenario runtime: caller events in (text, digits, silence, a recorded clip), actions out.
// No media and no timers here: the call turns `say`/`listen` into audio and the listener, and
// reports back what happened. One engine per call; the Scenario it runs is immutable.
import { EXTRACTORS } from '../slots/index.ts'
import { parseCorrection } from '../slots/correction.ts'
import type { Extracted, Lang, SlotContext } from '../slots/types.ts'
import { containsPhrase, expandContractions, normalize, words } from '../slots/words.ts'
import { renderText } from './prompt-texts.ts'
import type { AskStep, Condition, DtmfSettings, Outcome, Scenario, Step, Text } from './schema.ts'

/** What the engine asks the media side to do, in order. */
export type Action =
  | {
      type: 'say'
      text: string
      language: Lang
      /** the caller may barge in */
      interruptible: boolean
      step: string
      /** which prompt of the step: prompt, promptKnown, noInput, noMatch, followup, redirect, corrected, faq:<id> */
      prompt: string
      /** a text made for this call (promptKnown): the ordinary prompt, synthesised ahead, to say when this one is not ready in time */
      fallback?: string
    }
  | {
      type: 'listen'
      step: string
      slot?: string
      endSilenceMs: number
      maxUtteranceMs: number
      noInputMs: number
      /** keypad entry for this answer, or null when digits are not taken */
      dtmf: { maxDigits: number; terminator: string; interDigitMs: number } | null
    }
  | { type: 'saveSlot'; name: string; slot: SlotValue }
  | { type: 'setOutcome'; outcome: Outcome }
  | { type: 'transfer'; target: string }
  | { type: 'hangup' }

export interface SlotValue {
  /** the normalised value (E.164 phone, number, {start,end} time...); null for a clip */
  value: unknown
  /** what the caller said or typed */
  raw: string
  /** how prompts say it back */
  display: string
  /** crm: known before the call (the CRM's caller lookup); its step is not asked */
  source: 'speech' | 'dtmf' | 'clip' | 'crm'
  /** the recorded answer, when there was no recogniser */
  clip?: string
  details?: Record<string, unknown>
  step: string
  at: string
}

export interface HistoryEntry {
  at: string
  step: string
  event: 'enter' | 'say' | 'utterance' | 'dtmf' | 'noInput' | 'noMatch' | 'clip' | 'slot' | 'intent' | 'faq' | 'question' | 'correction' | 'outcome' | 'skip'
  text?: string
}

export interface EngineState {
  step: string
  slots: Record<string, SlotValue>
  retries: { noInput: number; noMatch: number }
  history: HistoryEntry[]
  /** questions the scenario had no answer for, for the seller */
  questions: string[]
  outcome?: Outcome
  ended: boolean
}

export interface EngineOptions {
  scenario: Scenario
  language: Lang
  /** the clock relative dates are resolved against; injected so tests are deterministic */
  now?: () => Date
  /**
   * What the CRM knows of the caller, by slot name (e.g. name, company, need, budget): these slots
   * are filled before the first step, steps asking only for them are skipped, and the start step's
   * promptKnown is said instead of its prompt. Slots the scenario does not declare are ignored.
   */
  known?: Record<string, string | number>
}

const QUESTION_START: Record<Lang, RegExp> = {
  ru: /^(а |и |ну |скажите,? |подскажите,? )?(как|какой|какая|какое|какие|какую|сколько|почему|зачем|где|куда|откуда|когда|кто|чем|что|можно ли|есть ли|а есть|вы можете|можете)( |$)/,
  en: /^(and |so |well |tell me,? )?(what|how|why|where|when|who|which|can you|could you|do you|does|is it|is there|are you|are there|will you|would you)( |$)/,
}

export function looksLikeQuestion(text: string, lang: Lang): boolean {
  if (text.trim().endsWith('?')) return true
  // a lone "what?" or "как?" is asking to repeat, not a question about the product
  return words(text).length > 1 && QUESTION_START[lang].test(normalize(text).replace(/[.,:]/g, ''))
}

export class ScenarioEngine {
  readonly state: EngineState
  private readonly scenario: Scenario
  private readonly lang: Lang
  private readonly now: () => Date
  private started = false
  private readonly known: Record<string, string | number>

  constructor(opts: EngineOptions) {
    if (!opts.scenario.languages.includes(opts.language)) {
      throw new Error(`scenario "${opts.scenario.id}" has no ${opts.language} prompts (it declares ${opts.scenario.languages.join(', ')})`)
    }
    this.scenario = opts.scenario
    this.lang = opts.language
    this.now = opts.now ?? (() => new Date())
    this.known = opts.known ?? {}
    this.state = { step: opts.scenario.start, slots: {}, retries: { noInput: 0, noMatch: 0 }, history: [], questions: [], ended: false }
  }

  get language(): Lang {
    return this.lang
  }

  /** The greeting: the start step's prompt and the first listen. */
  start(): Action[] {
    if (this.started) return []
    this.started = true
    const out: Action[] = []
    this.prefill(out)
    this.enter(this.scenario.start, out)
    return out
  }

  /** The CRM's values go into the scenario's slots of those names (read by the slot's extractor when it can). */
  private prefill(out: Action[]): void {
    for (const [name, raw] of Object.entries(this.known)) {
      const slot = this.scenario.slots[name]
      const text = String(raw).trim()
      if (!slot || !text) continue
      const got = this.extract(slot.type, text) ?? (slot.type === 'text' || slot.type === 'name' ? { value: text, display: text } : undefined)
      if (!got) continue
      this.save(name, { ...got, raw: text, source: 'crm', step: this.state.step, at: this.iso() }, out)
    }
  }

  /** The caller's slot came from the CRM: the step is not asked, it goes on by its transitions. */
  private skippable(step: Step, seen: Set<string>, name: string): string | undefined {
    if (step.kind !== 'ask' || !step.slot || this.state.slots[step.slot]?.source !== 'crm' || seen.has(name)) return undefined
    return step.transitions.find((t) => !t.when || this.holds(t.when, new Set()))?.to
  }

  /** A recognised utterance (an ASR final). */
  onUtterance(text: string): Action[] {
    const step = this.waiting()
    if (!step) return []
    this.log('utterance', text)
    const out: Action[] = []
    if (!words(text).length) return this.noMatch(step, out)
    this.handleText(step, text, out)
    return out
  }

  /** Keys typed for the current answer (the media side collected them up to the terminator). */
  onDtmf(digits: string): Action[] {
    const step = this.waiting()
    if (!step) return []
    this.log('dtmf', digits)
    const out: Action[] = []
    const dtmf = step.dtmf
    const keys = dtmf?.terminator && digits.endsWith(dtmf.terminator) ? digits.slice(0, -dtmf.terminator.length) : digits
    if (!dtmf || !keys) return this.noMatch(step, out)
    const mapped = dtmf.map[keys]
    if (mapped && 'intent' in mapped) {
      this.log('intent', mapped.intent)
      if (!this.followIntents(step, new Set([mapped.intent]), out)) this.noMatch(step, out)
      return out
    }
    if (mapped && step.slot) {
      const display = typeof mapped.value === 'boolean' ? this.yesNoWord(mapped.value) : String(mapped.value)
      this.fill(step, { value: mapped.value, display }, digits, 'dtmf', out)
      return out
    }
    const got = step.slot ? this.extract(this.scenario.slots[step.slot].type, keys) : undefined
    if (!got || !step.slot) return this.noMatch(step, out)
    this.fill(step, got, keys, 'dtmf', out)
    return out
  }

  /** The caller said nothing before the listen's noInputMs ran out. */
  onNoInput(): Action[] {
    const step = this.waiting()
    if (!step) return []
    this.log('noInput')
    const out: Action[] = []
    this.state.retries.noInput++
    if (this.state.retries.noInput > step.noInput.limit) this.enter(step.noInput.then, out)
    else this.reprompt(step, step.noInput.prompt, 'noInput', out)
    return out
  }

  /**
   * An answer recorded as an audio clip with no recogniser to read it: it becomes the slot's
   * value as a clip reference, and the step goes where it goes for an unrecognised answer.
   */
  onClip(ref: string): Action[] {
    const step = this.waiting()
    if (!step) return []
    this.log('clip', ref)
    const out: Action[] = []
    if (step.slot) this.save(step.slot, { value: null, raw: '', display: '', source: 'clip', clip: ref, step: this.state.step, at: this.iso() }, out)
    const target = step.onClip ?? step.transitions.find((t) => !t.when)?.to
    this.enter(target ?? this.state.step, out)
    return out
  }

  // --- turns ---

  private handleText(step: AskStep, text: string, out: Action[]): void {
    if (this.correctEarlierSlot(step, text, out)) return
    if (step.confirms && this.replaceConfirmed(step, step.confirms, text, out)) return
    const intents = this.intentsIn(text)
    for (const i of intents) this.log('intent', i)
    // 1. the step's own intent transitions, 2. the scenario-wide ones
    const byIntent = step.transitions.find((t) => t.when && usesIntent(t.when) && this.holds(t.when, intents))
    if (byIntent) return this.enter(byIntent.to, out)
    if (step.globalIntents && this.followGlobal(intents, out, text)) return
    // 3. a question the scenario can answer
    if (step.faq && this.answerFaq(step, text, out)) return
    // 4. the step's slot
    if (step.slot) {
      const type = this.scenario.slots[step.slot].type
      const got = type === 'text' && looksLikeQuestion(text, this.lang) ? undefined : this.extract(type, text)
      if (got) return this.fill(step, got, text, 'speech', out, intents)
    } else if (step.kind === 'ask') {
      const t = step.transitions.find((tr) => !tr.when || this.holds(tr.when, intents))
      if (t) return this.enter(t.to, out)
    }
    // 5. a question it cannot: say so politely and ask again
    if (step.kind === 'faq' || looksLikeQuestion(text, this.lang)) {
      this.log('question', text)
      this.state.questions.push(text)
      this.state.retries.noMatch++
      if (this.state.retries.noMatch > step.noMatch.limit) return this.enter(step.noMatch.then, out)
      this.say(this.scenario.prompts.redirect, 'redirect', step.interruptible, out)
      return this.askAgain(step, out)
    }
    this.noMatch(step, out)
  }

  /** "нет, не Иван, а Игорь" at a later step: fix the earlier slot and ask the current question again. */
  private correctEarlierSlot(step: AskStep, text: string, out: Action[]): boolean {
    const c = parseCorrection(text, this.lang)
    if (!c?.wrong.length) return false
    for (const [name, slot] of Object.entries(this.state.slots)) {
      if (name === step.slot || slot.source === 'clip') continue
      const have = words(slot.display)
      if (!c.wrong.every((w) => have.includes(w))) continue
      const got = this.extract(this.scenario.slots[name].type, c.right.join(' '))
      if (!got) continue
      this.log('correction', `${name}: ${slot.display} -> ${got.display}`)
      this.save(name, { ...got, raw: text, source: 'speech', step: this.state.step, at: this.iso() }, out)
      this.say(this.scenario.prompts.corrected, 'corrected', step.interruptible, out)
      this.say(step.prompt, 'prompt', step.interruptible, out)
      this.listen(step, out)
      return true
    }
    return false
  }

  /** At a confirmation ("Ваш номер ..., верно?"), an answer carrying a new value replaces the old and is confirmed again. */
  private replaceConfirmed(step: AskStep, name: string, text: string, out: Action[]): boolean {
    const got = this.extract(this.scenario.slots[name].type, text)
    if (!got || JSON.stringify(got.value) === JSON.stringify(this.state.slots[name]?.value)) return false
    this.log('correction', `${name}: ${this.state.slots[name]?.display ?? ''} -> ${got.display}`)
    this.save(name, { ...got, raw: text, source: 'speech', step: this.state.step, at: this.iso() }, out)
    this.enter(this.state.step, out)
    return true
  }

  private followIntents(step: AskStep, intents: Set<string>, out: Action[]): boolean {
    const t = step.transitions.find((tr) => tr.when && this.holds(tr.when, intents))
    if (t) {
      this.enter(t.to, out)
      return true
    }
    return step.globalIntents && this.followGlobal(intents, out)
  }

  /**
   * Scenario-wide intents (wrong number, not interested, a person...), except one leading back here.
   * When the target asks for a slot the same words already fill ("перезвоните завтра в десять"),
   * it is filled at once instead of asking.
   */
  private followGlobal(intents: Set<string>, out: Action[], text?: string): boolean {
    const g = this.scenario.globalIntents.find((gi) => intents.has(gi.intent) && gi.to !== this.state.step)
    if (!g) return false
    const target = this.scenario.steps[g.to]
    if (text !== undefined && target.kind === 'ask' && target.slot) {
      const got = this.extract(this.scenario.slots[target.slot].type, text)
      if (got) {
        this.state.step = g.to
        this.state.retries = { noInput: 0, noMatch: 0 }
        this.log('enter')
        this.fill(target, got, text, 'speech', out, intents)
        return true
      }
    }
    this.enter(g.to, out)
    return true
  }

  private answerFaq(step: AskStep, text: string, out: Action[]): boolean {
    const ws = words(expandContractions(text))
    let best: { id: string; answer: Text; score: number } | undefined
    for (const f of this.scenario.faq) {
      for (const p of f.match[this.lang] ?? []) {
        if (containsPhrase(ws, p) && p.length > (best?.score ?? 0)) best = { id: f.id, answer: f.answer, score: p.length }
      }
    }
    if (!best) return false
    this.log('faq', best.id)
    this.say(best.answer, `faq:${best.id}`, step.interruptible, out)
    this.askAgain(step, out)
    return true
  }

  private fill(step: AskStep, got: Extracted, raw: string, source: 'speech' | 'dtmf', out: Action[], intents = new Set<string>()): void {
    this.save(step.slot!, { ...got, raw, source, step: this.state.step, at: this.iso() }, out)
    const t = step.transitions.find((tr) => !tr.when || this.holds(tr.when, intents))
    // a filled slot that no transition takes (e.g. "no" where only "yes" leads on) counts as not understood
    if (!t) return void this.noMatch(step, out)
    this.enter(t.to, out)
  }

  private noMatch(step: AskStep, out: Action[]): Action[] {
    this.log('noMatch')
    this.state.retries.noMatch++
    if (this.state.retries.noMatch > step.noMatch.limit) this.enter(step.noMatch.then, out)
    else this.reprompt(step, step.noMatch.prompt, 'noMatch', out)
    return out
  }

  private reprompt(step: AskStep, prompt: Text, which: string, out: Action[]): void {
    this.say(prompt, which, step.interruptible, out)
    this.listen(step, out)
  }

  /** After an answered question: the faq step's follow-up, or the step's own prompt again. */
  private askAgain(step: AskStep, out: Action[]): void {
    if (step.followup) this.say(step.followup, 'followup', step.interruptible, out)
    else this.say(step.prompt, 'prompt', step.interruptible, out)
    this.listen(step, out)
  }

  // --- steps ---

  private enter(name: string, out: Action[]): void {
    // say and route steps chain without listening; validation rules out cycles among them (and
    // skipped steps are skipped once per entry)
    const skipped = new Set<string>()
    for (;;) {
      const step: Step = this.scenario.steps[name]
      this.state.retries = { noInput: 0, noMatch: 0 }
      this.state.step = name
      this.log('enter')
      const skipTo = this.skippable(step, skipped, name)
      if (skipTo) {
        skipped.add(name)
        this.log('skip', `${(step as AskStep).slot} known from the CRM`)
        name = skipTo
        continue
      }
      switch (step.kind) {
        case 'ask':
        case 'faq':
          if (step.kind === 'ask' && step.promptKnown && name === this.scenario.start && this.knownPromptRenders(step.promptKnown)) {
            const rendered = this.render(step.promptKnown[this.lang] ?? '')
            const ordinary = this.render(step.prompt[this.lang] ?? '')
            this.log('say', rendered)
            out.push({
              type: 'say',
              text: rendered,
              language: this.lang,
              interruptible: step.interruptible,
              step: name,
              prompt: 'promptKnown',
              fallback: ordinary,
            })
          } else this.say(step.prompt, 'prompt', step.interruptible, out)
          this.listen(step, out)
          return
        case 'say':
          this.say(step.prompt, 'prompt', step.interruptible, out)
          name = step.next
          continue
        case 'route':
          name = (step.transitions.find((t) => !t.when || this.holds(t.when, new Set())) ?? step.transitions[step.transitions.length - 1]).to
          continue
        case 'end':
          this.say(step.prompt, 'prompt', step.interruptible, out)
          this.finish(step.outcome, out)
          out.push({ type: 'hangup' })
          return
        case 'transfer':
          this.say(step.prompt, 'prompt', step.interruptible, out)
          this.finish('transferred', out)
          out.push({ type: 'transfer', target: step.target })
          return
      }
    }
  }

  private finish(outcome: Outcome, out: Action[]): void {
    this.state.outcome = outcome
    this.state.ended = true
    this.log('outcome', outcome)
    out.push({ type: 'setOutcome', outcome })
  }

  private say(text: Text, prompt: string, interruptible: boolean, out: Action[]): void {
    const rendered = this.render(text[this.lang] ?? '')
    if (!rendered) return
    this.log('say', rendered)
    out.push({ type: 'say', text: rendered, language: this.lang, interruptible, step: this.state.step, prompt })
  }

  /** promptKnown is said when every slot it names came from the CRM. */
  private knownPromptRenders(text: Text): boolean {
    const s = text[this.lang] ?? ''
    return !!s && [...s.matchAll(/\{([^}]+)\}/g)].every((m) => this.state.slots[m[1]]?.source === 'crm')
  }

  private listen(step: AskStep, out: Action[]): void {
    out.push({ type: 'listen', step: this.state.step, slot: step.slot, ...step.listen, dtmf: dtmfOf(step.dtmf) })
  }

  private render(s: string): string {
    return renderText(s, (name) => this.state.slots[name]?.display)
  }

  // --- slots, intents, conditions ---

  private extract(type: keyof typeof EXTRACTORS, text: string): Extracted | undefined {
    const ctx: SlotContext = { lang: this.lang, now: this.now(), timeZone: this.scenario.timeZone, phoneCountry: this.scenario.phoneCountry }
    return EXTRACTORS[type](text, ctx)
  }

  private save(name: string, slot: SlotValue, out: Action[]): void {
    this.state.slots[name] = slot
    this.log('slot', `${name}=${slot.source === 'clip' ? `clip:${slot.clip}` : slot.display}`)
    out.push({ type: 'saveSlot', name, slot })
  }

  private intentsIn(text: string): Set<string> {
    const ws = words(expandContractions(text))
    const found = new Set<string>()
    for (const [name, byLang] of Object.entries(this.scenario.intents)) {
      if ((byLang[this.lang] ?? []).some((p) => containsPhrase(ws, p))) found.add(name)
    }
    return found
  }

  private holds(c: Condition, intents: Set<string>): boolean {
    if ('all' in c) return c.all.every((x) => this.holds(x, intents))
    if ('any' in c) return c.any.some((x) => this.holds(x, intents))
    if ('not' in c) return !this.holds(c.not, intents)
    if ('intent' in c) return intents.has(c.intent)
    const s = this.state.slots[c.slot]
    // a clip is kept, but it is not a value a condition can look at
    if (c.filled !== undefined) return c.filled === (!!s && s.source !== 'clip')
    if (!s || s.source === 'clip') return false
    const v = s.value
    if (c.equals !== undefined && v !== c.equals) return false
    if (c.in !== undefined && !c.in.includes(v as string)) return false
    if (c.gte !== undefined && !(typeof v === 'number' && v >= c.gte) && !(typeof v === 'string' && Number(v) >= c.gte)) return false
    if (c.lte !== undefined && !(typeof v === 'number' && v <= c.lte) && !(typeof v === 'string' && Number(v) <= c.lte)) return false
    return true
  }

  private waiting(): AskStep | undefined {
    if (!this.started || this.state.ended) return undefined
    const step = this.scenario.steps[this.state.step]
    return step.kind === 'ask' || step.kind === 'faq' ? step : undefined
  }

  private yesNoWord(v: boolean): string {
    return this.lang === 'ru' ? (v ? 'да' : 'нет') : v ? 'yes' : 'no'
  }

  private iso(): string {
    return this.now().toISOString()
  }

  private log(event: HistoryEntry['event'], text?: string): void {
    this.state.history.push({ at: this.iso(), step: this.state.step, event, ...(text === undefined ? {} : { text }) })
  }
}

function usesIntent(c: Condition): boolean {
  if ('all' in c) return c.all.some(usesIntent)
  if ('any' in c) return c.any.some(usesIntent)
  if ('not' in c) return usesIntent(c.not)
  return 'intent' in c
}

function dtmfOf(d: DtmfSettings | undefined): Extract<Action, { type: 'listen' }>['dtmf'] {
  return d ? { maxDigits: d.maxDigits, terminator: d.terminator, interDigitMs: d.interDigitMs } : null
}
