// The scenario model and its checks. A YAML file (see dialog/scenarios/) is validated into a
// Scenario; every problem is reported with the path of the field it is about, which the loader
// turns into a line number. The model is plain data so it can cross a worker boundary.
import { SLOT_TYPES, type Lang, type SlotType } from '../slots/types.ts'
import { expandContractions, words } from '../slots/words.ts'
import { assertTimeZone } from '../slots/zoned-time.ts'

export const LANGS: readonly Lang[] = ['ru', 'en']
/** The slots a CRM caller lookup can fill before the call (and a promptKnown may name). */
export const KNOWN_CALLER_SLOTS = ['name', 'company', 'need', 'budget'] as const
export const OUTCOMES = ['qualified_lead', 'callback_booked', 'transferred', 'not_interested', 'do_not_call', 'wrong_number', 'no_answer'] as const
export type Outcome = (typeof OUTCOMES)[number]

/** A text per language the scenario declares. */
export type Text = Partial<Record<Lang, string>>

/** Per-step turn-taking knobs, handed to the media side with each listen. */
export interface ListenSettings {
  endSilenceMs: number
  maxUtteranceMs: number
  noInputMs: number
}

export type DtmfMapping = { value: string | number | boolean } | { intent: string }

export interface DtmfSettings {
  maxDigits: number
  /** ends the entry early; '' for none */
  terminator: string
  interDigitMs: number
  /** single keys that mean a value or an intent ("1" = yes, "0" = a person) */
  map: Record<string, DtmfMapping>
}

export type Condition =
  | { intent: string }
  | { slot: string; equals?: string | number | boolean; in?: Array<string | number | boolean>; gte?: number; lte?: number; filled?: boolean }
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }

export interface Transition {
  when?: Condition
  to: string
}

export interface RetryPolicy {
  limit: number
  prompt: Text
  /** where to go when the limit is reached */
  then: string
}

export interface AskStep {
  kind: 'ask' | 'faq'
  prompt: Text
  /**
   * The start step only: said instead of prompt to a caller the CRM knows, with placeholders for
   * what the lookup gives (KNOWN_CALLER_SLOTS); synthesised at the call.
   */
  promptKnown?: Text
  /** faq steps: said after an answer, instead of the whole prompt again */
  followup?: Text
  slot?: string
  /** a yes/no confirmation of this slot: a new value in the answer replaces it and the step repeats */
  confirms?: string
  transitions: Transition[]
  noInput: RetryPolicy
  noMatch: RetryPolicy
  /** where an answer recorded as a clip (no ASR) goes; defaults to the unconditional transition */
  onClip?: string
  listen: ListenSettings
  dtmf?: DtmfSettings
  interruptible: boolean
  /** answer FAQ questions here (default true) */
  faq: boolean
  /** scenario-wide intents apply here (default true) */
  globalIntents: boolean
}

export interface SayStep {
  kind: 'say'
  prompt: Text
  next: string
  interruptible: boolean
}

export interface EndStep {
  kind: 'end'
  prompt: Text
  outcome: Outcome
  interruptible: boolean
}

export interface TransferStep {
  kind: 'transfer'
  prompt: Text
  /** a SIP URI or number for the seller */
  target: string
  interruptible: boolean
}

/** Branches at once, without a prompt (e.g. to pick the ending by what was collected). */
export interface RouteStep {
  kind: 'route'
  transitions: Transition[]
}

export type Step = AskStep | SayStep | EndStep | TransferStep | RouteStep

export interface FaqEntry {
  id: string
  /** per language, each phrase as normalised words ('*' suffix = any ending) */
  match: Partial<Record<Lang, string[][]>>
  answer: Text
}

export interface GlobalIntent {
  intent: string
  to: string
}

export interface Scenario {
  id: string
  /** the file it came from, for messages */
  file: string
  languages: Lang[]
  start: string
  timeZone: string
  phoneCountry: string
  slots: Record<string, { type: SlotType }>
  /** per intent and language, phrases as normalised words */
  intents: Record<string, Partial<Record<Lang, string[][]>>>
  globalIntents: GlobalIntent[]
  faq: FaqEntry[]
  /** shared prompts: noMatch/noInput fallbacks, the polite redirect, the correction acknowledgement */
  prompts: { noInput: Text; noMatch: Text; redirect: Text; corrected: Text }
  steps: Record<string, Step>
}

export type Path = Array<string | number>

export interface Problem {
  path: Path
  message: string
}

/** "steps.ask_budget.transitions[1].to" */
export function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('')
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const STEP_TYPES = ['ask', 'faq', 'say', 'end', 'transfer', 'route'] as const
const DEFAULT_LISTEN: ListenSettings = { endSilenceMs: 700, maxUtteranceMs: 15000, noInputMs: 6000 }

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]
    d[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return d[b.length]
}

function unknown(kind: string, name: string, known: Iterable<string>): string {
  let best: string | undefined
  let bestD = 3
  for (const k of known) {
    const dist = distance(name, k)
    if (dist < bestD) [best, bestD] = [k, dist]
  }
  return `unknown ${kind} "${name}"` + (best ? ` (did you mean "${best}"?)` : '')
}

/** A cycle through say and route steps only (the engine would spin without waiting for the caller). */
function promptlessLoop(steps: Record<string, Step>): string[] | undefined {
  const next = (s: Step): string[] => (s.kind === 'say' ? [s.next] : s.kind === 'route' ? s.transitions.map((t) => t.to) : [])
  const state = new Map<string, 'open' | 'done'>()
  const visit = (name: string, trail: string[]): string[] | undefined => {
    if (state.get(name) === 'open') return [...trail.slice(trail.indexOf(name)), name]
    if (state.get(name) === 'done') return undefined
    state.set(name, 'open')
    for (const n of next(steps[name])) {
      const loop = visit(n, [...trail, name])
      if (loop) return loop
    }
    state.set(name, 'done')
    return undefined
  }
  for (const name of Object.keys(steps)) {
    const loop = visit(name, [])
    if (loop) return loop
  }
  return undefined
}

/** Phrases as the intent matcher compares them. */
export function phraseWords(phrase: string): string[] {
  return words(expandContractions(phrase.replace(/\*/g, 'ASTERISK'))).map((w) => w.replace(/asterisk/g, '*'))
}

/**
 * Checks a parsed YAML value and builds the Scenario. Problems are collected, not thrown, so
 * one run reports all of them; the scenario is only usable when there are none.
 */
export function validateScenario(raw: unknown, file: string): { scenario?: Scenario; problems: Problem[] } {
  const problems: Problem[] = []
  const report = (path: Path, message: string) => problems.push({ path, message })

  const str = (v: unknown, path: Path, required = true): string | undefined => {
    if (v === undefined || v === null) {
      if (required) report(path, 'is required')
      return undefined
    }
    if (typeof v !== 'string' || !v.trim()) {
      report(path, `must be a non-empty string, got ${JSON.stringify(v)}`)
      return undefined
    }
    return v
  }
  const int = (v: unknown, path: Path, fallback: number, min = 0, max = 600000): number => {
    if (v === undefined) return fallback
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      report(path, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`)
      return fallback
    }
    return v
  }
  const bool = (v: unknown, path: Path, fallback: boolean): boolean => {
    if (v === undefined) return fallback
    if (typeof v !== 'boolean') {
      report(path, `must be true or false, got ${JSON.stringify(v)}`)
      return fallback
    }
    return v
  }
  const obj = (v: unknown, path: Path, required = true): Obj | undefined => {
    if (v === undefined || v === null) {
      if (required) report(path, 'is required')
      return undefined
    }
    if (!isObj(v)) {
      report(path, `must be a mapping, got ${Array.isArray(v) ? 'a list' : JSON.stringify(v)}`)
      return undefined
    }
    return v
  }
  const list = (v: unknown, path: Path, required = true): unknown[] | undefined => {
    if (v === undefined || v === null) {
      if (required) report(path, 'is required')
      return undefined
    }
    if (!Array.isArray(v)) {
      report(path, `must be a list, got ${JSON.stringify(v)}`)
      return undefined
    }
    return v
  }
  const only = (o: Obj, path: Path, allowed: readonly string[]) => {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) report([...path, k], `unknown field (allowed: ${allowed.join(', ')})`)
  }

  const root = obj(raw, [])
  if (!root) return { problems }
  only(root, [], ['id', 'languages', 'start', 'timezone', 'phoneCountry', 'defaults', 'prompts', 'slots', 'intents', 'globalIntents', 'faq', 'steps'])
  const id = str(root.id, ['id']) ?? ''

  const languages: Lang[] = []
  const langList = list(root.languages, ['languages'])
  langList?.forEach((l, i) => {
    if (!LANGS.includes(l as Lang)) report(['languages', i], `must be one of ${LANGS.join(', ')}, got ${JSON.stringify(l)}`)
    else if (languages.includes(l as Lang)) report(['languages', i], `"${l}" is listed twice`)
    else languages.push(l as Lang)
  })
  if (langList && !langList.length) report(['languages'], 'must name at least one language')

  const timeZone = str(root.timezone, ['timezone'], false) ?? 'Europe/Moscow'
  try {
    assertTimeZone(timeZone)
  } catch {
    report(['timezone'], `unknown time zone "${timeZone}"`)
  }
  const phoneCountry = root.phoneCountry === undefined ? '7' : String(root.phoneCountry)
  if (!/^[1-9]\d{0,2}$/.test(phoneCountry))
    report(['phoneCountry'], `must be a country calling code such as "7" or "1", got ${JSON.stringify(root.phoneCountry)}`)

  // slots: name -> type
  const slots: Scenario['slots'] = {}
  const slotMap = obj(root.slots, ['slots'], false) ?? {}
  for (const [name, t] of Object.entries(slotMap)) {
    const type = isObj(t) ? t.type : t
    const path: Path = isObj(t) ? ['slots', name, 'type'] : ['slots', name]
    if (!SLOT_TYPES.includes(type as SlotType)) report(path, `must be a slot type (${SLOT_TYPES.join(', ')}), got ${JSON.stringify(type)}`)
    else slots[name] = { type: type as SlotType }
  }

  /** A text per language: a string, or a mapping with every declared language. */
  const text = (v: unknown, path: Path, required = true): Text | undefined => {
    if (v === undefined || v === null) {
      if (required) report(path, 'is required')
      return undefined
    }
    const o = obj(v, path)
    if (!o) return undefined
    const out: Text = {}
    for (const k of Object.keys(o)) if (!LANGS.includes(k as Lang)) report([...path, k], `unknown language (use ${LANGS.join(', ')})`)
    for (const l of languages) {
      const s = str(o[l], [...path, l], false)
      if (o[l] === undefined) report(path, `has no "${l}" text (the scenario declares ${languages.join(', ')})`)
      if (s === undefined) continue
      for (const m of s.matchAll(/\{([^}]*)\}/g)) {
        if (!slots[m[1]]) report([...path, l], unknown('slot', m[1], Object.keys(slots)) + ' in the text')
      }
      out[l] = s
    }
    return out
  }
  const phrases = (v: unknown, path: Path): Partial<Record<Lang, string[][]>> => {
    const out: Partial<Record<Lang, string[][]>> = {}
    const o = obj(v, path)
    if (!o) return out
    for (const k of Object.keys(o)) if (!LANGS.includes(k as Lang)) report([...path, k], `unknown language (use ${LANGS.join(', ')})`)
    for (const l of languages) {
      const items = list(o[l], [...path, l], false)
      if (!items) {
        report(path, `has no "${l}" phrases (the scenario declares ${languages.join(', ')})`)
        continue
      }
      if (!items.length) report([...path, l], 'must list at least one phrase')
      out[l] = []
      items.forEach((p, i) => {
        const s = typeof p === 'number' ? String(p) : str(p, [...path, l, i])
        if (s === undefined) return
        const ws = phraseWords(s)
        if (!ws.length) report([...path, l, i], `has no words: ${JSON.stringify(s)}`)
        else out[l]!.push(ws)
      })
    }
    return out
  }

  const intents: Scenario['intents'] = {}
  for (const [name, v] of Object.entries(obj(root.intents, ['intents'], false) ?? {})) intents[name] = phrases(v, ['intents', name])

  const promptsRaw = obj(root.prompts, ['prompts']) ?? {}
  only(promptsRaw, ['prompts'], ['noInput', 'noMatch', 'redirect', 'corrected'])
  const prompts = {
    noInput: text(promptsRaw.noInput, ['prompts', 'noInput']) ?? {},
    noMatch: text(promptsRaw.noMatch, ['prompts', 'noMatch']) ?? {},
    redirect: text(promptsRaw.redirect, ['prompts', 'redirect']) ?? {},
    corrected: text(promptsRaw.corrected, ['prompts', 'corrected']) ?? {},
  }

  const defaults = obj(root.defaults, ['defaults'], false) ?? {}
  only(defaults, ['defaults'], ['listen', 'retries', 'noInput', 'noMatch', 'interruptible'])
  const listenOf = (v: unknown, path: Path, base: ListenSettings): ListenSettings => {
    const o = obj(v, path, false)
    if (!o) return base
    only(o, path, ['endSilenceMs', 'maxUtteranceMs', 'noInputMs'])
    return {
      endSilenceMs: int(o.endSilenceMs, [...path, 'endSilenceMs'], base.endSilenceMs, 100, 10000),
      maxUtteranceMs: int(o.maxUtteranceMs, [...path, 'maxUtteranceMs'], base.maxUtteranceMs, 1000, 120000),
      noInputMs: int(o.noInputMs, [...path, 'noInputMs'], base.noInputMs, 500, 60000),
    }
  }
  const defaultListen = listenOf(defaults.listen, ['defaults', 'listen'], DEFAULT_LISTEN)
  const defaultInterruptible = bool(defaults.interruptible, ['defaults', 'interruptible'], true)
  const retryDefaults = (key: 'noInput' | 'noMatch') => {
    const o = obj(defaults[key], ['defaults', key], false) ?? {}
    only(o, ['defaults', key], ['limit', 'then'])
    return { limit: int(o.limit, ['defaults', key, 'limit'], 2, 0, 10), then: str(o.then, ['defaults', key, 'then'], false) }
  }
  const retryDefault = { noInput: retryDefaults('noInput'), noMatch: retryDefaults('noMatch') }

  // steps: first their names, so references can be checked in one pass
  const stepsRaw = obj(root.steps, ['steps']) ?? {}
  const stepNames = Object.keys(stepsRaw)
  const refs: Array<{ path: Path; to: string }> = []
  const stepRef = (v: unknown, path: Path, required = true): string => {
    const s = str(v, path, required)
    if (s !== undefined) refs.push({ path, to: s })
    return s ?? ''
  }
  const slotRef = (v: unknown, path: Path, required = true): string | undefined => {
    const s = str(v, path, required)
    if (s !== undefined && !slots[s]) {
      report(path, unknown('slot', s, Object.keys(slots)))
      return undefined
    }
    return s
  }
  const intentRef = (v: unknown, path: Path): string | undefined => {
    const s = str(v, path)
    if (s !== undefined && !intents[s]) {
      report(path, unknown('intent', s, Object.keys(intents)))
      return undefined
    }
    return s
  }

  const scalarOk = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
  const condition = (v: unknown, path: Path): Condition | undefined => {
    const o = obj(v, path)
    if (!o) return undefined
    if ('all' in o || 'any' in o) {
      const key = 'all' in o ? 'all' : 'any'
      only(o, path, [key])
      const items = list(o[key], [...path, key]) ?? []
      if (!items.length) report([...path, key], 'must list at least one condition')
      const cs = items.map((c, i) => condition(c, [...path, key, i])).filter((c): c is Condition => !!c)
      return key === 'all' ? { all: cs } : { any: cs }
    }
    if ('not' in o) {
      only(o, path, ['not'])
      const c = condition(o.not, [...path, 'not'])
      return c && { not: c }
    }
    if ('intent' in o) {
      only(o, path, ['intent'])
      const i = intentRef(o.intent, [...path, 'intent'])
      return i ? { intent: i } : undefined
    }
    if (!('slot' in o)) {
      report(path, 'must have "slot", "intent", "all", "any" or "not"')
      return undefined
    }
    only(o, path, ['slot', 'equals', 'in', 'gte', 'lte', 'filled'])
    const slot = slotRef(o.slot, [...path, 'slot'])
    const tests = ['equals', 'in', 'gte', 'lte', 'filled'].filter((k) => k in o)
    if (!tests.length) report(path, 'needs one of equals, in, gte, lte, filled')
    if ('equals' in o && !scalarOk(o.equals)) report([...path, 'equals'], 'must be a string, number or boolean')
    if ('in' in o && !(Array.isArray(o.in) && o.in.every(scalarOk))) report([...path, 'in'], 'must be a list of strings, numbers or booleans')
    for (const k of ['gte', 'lte'] as const) {
      if (k in o && typeof o[k] !== 'number') report([...path, k], `must be a number, got ${JSON.stringify(o[k])}`)
      else if (k in o && slot && slots[slot].type !== 'amount' && slots[slot].type !== 'digits') {
        report([...path, k], `compares numbers, but slot "${slot}" is of type ${slots[slot].type}`)
      }
    }
    if ('filled' in o && typeof o.filled !== 'boolean') report([...path, 'filled'], 'must be true or false')
    if (!slot) return undefined
    return { slot, ...(o as object) } as Condition
  }

  const retry = (v: unknown, path: Path, key: 'noInput' | 'noMatch'): RetryPolicy => {
    const o = obj(v, path, false) ?? {}
    only(o, path, ['limit', 'prompt', 'then'])
    const d = retryDefault[key]
    const then = o.then === undefined ? d.then : undefined
    if (o.then === undefined && then === undefined)
      report(path, `needs "then" (the step after ${d.limit} ${key === 'noInput' ? 'silent' : 'unrecognised'} answers), or set defaults.${key}.then`)
    return {
      limit: int(o.limit, [...path, 'limit'], d.limit, 0, 10),
      prompt: text(o.prompt, [...path, 'prompt'], false) ?? prompts[key],
      then: o.then === undefined ? (then ? (refs.push({ path: ['defaults', key, 'then'], to: then }), then) : '') : stepRef(o.then, [...path, 'then']),
    }
  }

  const dtmf = (v: unknown, path: Path): DtmfSettings | undefined => {
    const o = obj(v, path, false)
    if (!o) return undefined
    only(o, path, ['maxDigits', 'terminator', 'interDigitMs', 'map'])
    const terminator = o.terminator === undefined ? '#' : String(o.terminator)
    if (!/^[#*]?$/.test(terminator)) report([...path, 'terminator'], `must be "#", "*" or "", got ${JSON.stringify(o.terminator)}`)
    const map: Record<string, DtmfMapping> = {}
    for (const [key, m] of Object.entries(obj(o.map, [...path, 'map'], false) ?? {})) {
      const mp = [...path, 'map', key]
      if (!/^[0-9*#]$/.test(key)) report(mp, 'must be a single key 0-9, * or #')
      const mo = obj(m, mp)
      if (!mo) continue
      if ('intent' in mo) {
        only(mo, mp, ['intent'])
        const i = intentRef(mo.intent, [...mp, 'intent'])
        if (i) map[key] = { intent: i }
      } else if ('value' in mo) {
        only(mo, mp, ['value'])
        if (!scalarOk(mo.value)) report([...mp, 'value'], 'must be a string, number or boolean')
        else map[key] = { value: mo.value as string | number | boolean }
      } else report(mp, 'needs "value" or "intent"')
    }
    return {
      maxDigits: int(o.maxDigits, [...path, 'maxDigits'], Object.keys(map).length ? 1 : 15, 1, 32),
      terminator,
      interDigitMs: int(o.interDigitMs, [...path, 'interDigitMs'], 4000, 500, 30000),
      map,
    }
  }

  const steps: Record<string, Step> = {}
  for (const name of stepNames) {
    const path: Path = ['steps', name]
    const s = obj(stepsRaw[name], path)
    if (!s) continue
    const kind = (s.type ?? 'ask') as Step['kind']
    if (!STEP_TYPES.includes(kind)) {
      report([...path, 'type'], `must be one of ${STEP_TYPES.join(', ')}, got ${JSON.stringify(s.type)}`)
      continue
    }
    const transitionList = (): Transition[] => {
      const out: Transition[] = []
      const tl = list(s.transitions, [...path, 'transitions']) ?? []
      if (!tl.length && s.transitions !== undefined) report([...path, 'transitions'], 'must list at least one transition')
      tl.forEach((t, i) => {
        const tp = [...path, 'transitions', i]
        const to = obj(t, tp)
        if (!to) return
        only(to, tp, ['when', 'to'])
        const when = to.when === undefined ? undefined : condition(to.when, [...tp, 'when'])
        out.push({ when, to: stepRef(to.to, [...tp, 'to']) })
      })
      return out
    }
    if (kind === 'route') {
      only(s, path, ['type', 'transitions'])
      const transitions = transitionList()
      if (transitions.length && !transitions.some((t) => !t.when)) report([...path, 'transitions'], 'a route step needs a last transition without "when"')
      steps[name] = { kind, transitions }
      continue
    }
    const prompt = text(s.prompt, [...path, 'prompt']) ?? {}
    const interruptible = bool(s.interruptible, [...path, 'interruptible'], kind === 'end' || kind === 'transfer' ? false : defaultInterruptible)
    if (kind === 'say') {
      only(s, path, ['type', 'prompt', 'next', 'interruptible'])
      steps[name] = { kind, prompt, interruptible, next: stepRef(s.next, [...path, 'next']) }
    } else if (kind === 'end') {
      only(s, path, ['type', 'prompt', 'outcome', 'interruptible'])
      const outcome = str(s.outcome, [...path, 'outcome'])
      if (outcome !== undefined && !OUTCOMES.includes(outcome as Outcome))
        report([...path, 'outcome'], `${unknown('outcome', outcome, OUTCOMES)}; one of ${OUTCOMES.join(', ')}`)
      steps[name] = { kind, prompt, interruptible, outcome: outcome as Outcome }
    } else if (kind === 'transfer') {
      only(s, path, ['type', 'prompt', 'target', 'interruptible'])
      steps[name] = { kind, prompt, interruptible, target: str(s.target, [...path, 'target']) ?? '' }
    } else {
      only(s, path, [
        'type',
        'prompt',
        'promptKnown',
        'followup',
        'slot',
        'confirms',
        'transitions',
        'noInput',
        'noMatch',
        'onClip',
        'listen',
        'dtmf',
        'interruptible',
        'faq',
        'globalIntents',
      ])
      const slot = s.slot === undefined ? undefined : slotRef(s.slot, [...path, 'slot'])
      const confirms = s.confirms === undefined ? undefined : slotRef(s.confirms, [...path, 'confirms'])
      if (confirms && slot && slots[slot].type !== 'yesno')
        report([...path, 'slot'], `a step that confirms "${confirms}" needs a yesno slot, "${slot}" is ${slots[slot].type}`)
      if (kind === 'faq' && slot) report([...path, 'slot'], 'a faq step fills no slot')
      const transitions = transitionList()
      const dt = dtmf(s.dtmf, [...path, 'dtmf'])
      const onClip = s.onClip === undefined ? undefined : stepRef(s.onClip, [...path, 'onClip'])
      const promptKnown = text(s.promptKnown, [...path, 'promptKnown'], false)
      if (s.promptKnown !== undefined) {
        if (kind !== 'ask' || name !== root.start) report([...path, 'promptKnown'], 'only the start step (an ask step) has a greeting for a known caller')
        for (const l of languages) {
          const txt = promptKnown?.[l] ?? ''
          for (const m of txt.matchAll(/\{([^}]*)\}/g)) {
            if (!(KNOWN_CALLER_SLOTS as readonly string[]).includes(m[1]))
              report(
                [...path, 'promptKnown', l],
                `placeholder {${m[1]}} is not known before the call (use ${KNOWN_CALLER_SLOTS.map((k) => `{${k}}`).join(', ')})`,
              )
          }
          if (promptKnown?.[l] !== undefined && !/\{[^}]*\}/.test(txt))
            report([...path, 'promptKnown', l], 'names nothing known of the caller (use a placeholder such as {name})')
        }
      }
      const step: AskStep = {
        kind,
        prompt,
        ...(promptKnown && { promptKnown }),
        followup: text(s.followup, [...path, 'followup'], false),
        slot,
        confirms,
        transitions,
        noInput: retry(s.noInput, [...path, 'noInput'], 'noInput'),
        noMatch: retry(s.noMatch, [...path, 'noMatch'], 'noMatch'),
        onClip,
        listen: listenOf(s.listen, [...path, 'listen'], defaultListen),
        dtmf: dt,
        interruptible,
        faq: bool(s.faq, [...path, 'faq'], true),
        globalIntents: bool(s.globalIntents, [...path, 'globalIntents'], true),
      }
      // without a recogniser an answer is only a clip: the step must know where that leads
      if (!onClip && !transitions.some((t) => !t.when) && transitions.length)
        report(path, 'needs "onClip" or a transition without "when" (where an unrecognised, recorded answer goes)')
      if (kind === 'faq' && !step.followup) report([...path, 'followup'], 'is required for a faq step')
      steps[name] = step
    }
  }

  const globalIntents: GlobalIntent[] = []
  list(root.globalIntents, ['globalIntents'], false)?.forEach((g, i) => {
    const gp = ['globalIntents', i]
    const o = obj(g, gp)
    if (!o) return
    only(o, gp, ['intent', 'to'])
    const intent = intentRef(o.intent, [...gp, 'intent'])
    const to = stepRef(o.to, [...gp, 'to'])
    if (intent) globalIntents.push({ intent, to })
  })

  const faq: FaqEntry[] = []
  list(root.faq, ['faq'], false)?.forEach((f, i) => {
    const fp = ['faq', i]
    const o = obj(f, fp)
    if (!o) return
    only(o, fp, ['id', 'match', 'answer'])
    faq.push({ id: str(o.id, [...fp, 'id']) ?? String(i), match: phrases(o.match, [...fp, 'match']), answer: text(o.answer, [...fp, 'answer']) ?? {} })
  })

  const start = stepRef(root.start, ['start'])
  for (const r of refs) if (r.to && !stepsRaw[r.to]) report(r.path, unknown('step', r.to, stepNames))
  if (!problems.length && !stepNames.some((n) => steps[n].kind === 'end' || steps[n].kind === 'transfer'))
    report(['steps'], 'has no end or transfer step: a call could never finish')
  if (!problems.length) {
    const loop = promptlessLoop(steps)
    if (loop) report(['steps', loop[0]], `say/route steps loop without listening: ${loop.join(' -> ')}`)
  }

  if (problems.length) return { problems }
  return {
    problems,
    scenario: { id, file, languages, start, timeZone, phoneCountry, slots, intents, globalIntents, faq, prompts, steps },
  }
}
