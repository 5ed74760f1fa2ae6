// The agent's tools: JSON Schemas the model sees, and executors that validate the model's
// arguments and turn them into actions for the call (or, for search_knowledge, into context).
import { Ajv, type ValidateFunction } from 'ajv'
import type { ChatTool } from '../../providers/types.ts'
import type { KnowledgeHit, KnowledgeSearch } from '../knowledge/knowledge-base.ts'

export interface LeadFields {
  name?: string
  company?: string
  need?: string
  budget?: string
  phone?: string
  email?: string
  notes?: string
}

export type CallOutcome = 'qualified' | 'callback' | 'transferred' | 'not_interested' | 'do_not_call' | 'wrong_number' | 'other'

/** What the agent asks of the call; the sink (the call, the CRM) carries it out. */
export type AgentAction =
  | { type: 'lead'; fields: LeadFields }
  | { type: 'callback'; when: string; phone?: string; note?: string }
  | { type: 'transfer'; reason: string; summary?: string }
  | { type: 'end_call'; outcome: CallOutcome; summary?: string; reason: 'model' | 'max_turns' }

export type ActionSink = (action: AgentAction) => void | Promise<void>

export type ToolName = 'create_or_update_lead' | 'schedule_callback' | 'transfer_to_seller' | 'search_knowledge' | 'end_call'

const str = (description: string, extra: Record<string, unknown> = {}) => ({ type: 'string', minLength: 1, description, ...extra })

export const TOOLS: Record<ToolName, ChatTool> = {
  create_or_update_lead: {
    name: 'create_or_update_lead',
    description: "Save or correct the customer's details as soon as they are known. Send only the fields you learned or corrected.",
    parameters: {
      type: 'object',
      properties: {
        name: str("the customer's name"),
        company: str('company name'),
        need: str('what the customer needs, in their words'),
        budget: str('budget as the customer said it'),
        phone: str('phone number, digits with an optional leading +', { pattern: '^\\+?[0-9 ()-]{5,20}$' }),
        email: str('e-mail address', { pattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$' }),
        notes: str('anything else a seller should know'),
      },
      additionalProperties: false,
      minProperties: 1,
    },
  },
  schedule_callback: {
    name: 'schedule_callback',
    description: 'Book a call back from a seller at the time the customer asked for.',
    parameters: {
      type: 'object',
      properties: {
        when: str("date and time, ISO 8601 when you can resolve it (2024-05-02T15:00), otherwise the customer's words"),
        phone: str('number to call, when it differs from the caller id', { pattern: '^\\+?[0-9 ()-]{5,20}$' }),
        note: str('what the call back is about'),
      },
      required: ['when'],
      additionalProperties: false,
    },
  },
  transfer_to_seller: {
    name: 'transfer_to_seller',
    description: 'Put the customer through to a human seller now: they ask for a person, or they are ready to buy.',
    parameters: {
      type: 'object',
      properties: { reason: str('why the customer is transferred'), summary: str('one or two sentences for the seller') },
      required: ['reason'],
      additionalProperties: false,
    },
  },
  search_knowledge: {
    name: 'search_knowledge',
    description: "Search the company's product documents. Use it before answering any question about the product, prices or terms.",
    parameters: {
      type: 'object',
      properties: { query: str("the question, in the customer's language") },
      required: ['query'],
      additionalProperties: false,
    },
  },
  end_call: {
    name: 'end_call',
    description: 'End the call after saying goodbye.',
    parameters: {
      type: 'object',
      properties: {
        outcome: { type: 'string', enum: ['qualified', 'callback', 'transferred', 'not_interested', 'do_not_call', 'wrong_number', 'other'] },
        summary: str('a short summary of the call for the CRM'),
      },
      required: ['outcome'],
      additionalProperties: false,
    },
  },
}

/** One executed tool call, as stored with the call. */
export interface ToolRecord {
  callId: string
  name: string
  arguments: unknown
  /** what the model got back */
  result: unknown
  ok: boolean
}

export interface ToolOutcome {
  /** JSON for the model */
  result: unknown
  ok: boolean
  /** chunks retrieved, which ground what the agent says next */
  knowledge?: KnowledgeHit[]
  /** the call is over for the agent once this tool ran (transfer, end_call) */
  terminal?: 'transfer' | 'end_call'
}

export interface ToolDeps {
  sink: ActionSink
  knowledge?: KnowledgeSearch
  /** chunks handed to the model per search */
  knowledgeLimit?: number
}

const ajv = new Ajv({ allErrors: true })
const validators = Object.fromEntries(Object.values(TOOLS).map((tool) => [tool.name, ajv.compile(tool.parameters)])) as Record<ToolName, ValidateFunction>

const isToolName = (name: string): name is ToolName => Object.hasOwn(TOOLS, name)

/** Runs one tool call; bad arguments and failures become an error result for the model, never a throw. */
export async function runTool(name: string, rawArguments: string, deps: ToolDeps): Promise<ToolOutcome & { arguments: unknown }> {
  if (!isToolName(name)) return { arguments: rawArguments, ok: false, result: { error: `unknown tool ${name}` } }
  let args: unknown
  try {
    args = rawArguments.trim() === '' ? {} : JSON.parse(rawArguments)
  } catch {
    return { arguments: rawArguments, ok: false, result: { error: 'arguments are not valid JSON' } }
  }
  const validate = validators[name]
  if (!validate(args)) {
    return { arguments: args, ok: false, result: { error: `invalid arguments: ${ajv.errorsText(validate.errors)}` } }
  }
  try {
    return { arguments: args, ...(await execute(name, args, deps)) }
  } catch (err) {
    return { arguments: args, ok: false, result: { error: `${name} failed: ${(err as Error).message}` } }
  }
}

async function execute(name: ToolName, args: unknown, deps: ToolDeps): Promise<ToolOutcome> {
  switch (name) {
    case 'create_or_update_lead':
      await deps.sink({ type: 'lead', fields: args as LeadFields })
      return { ok: true, result: { saved: Object.keys(args as LeadFields) } }
    case 'schedule_callback': {
      const { when, phone, note } = args as { when: string; phone?: string; note?: string }
      await deps.sink({ type: 'callback', when, phone, note })
      return { ok: true, result: { scheduled: when } }
    }
    case 'transfer_to_seller': {
      const { reason, summary } = args as { reason: string; summary?: string }
      await deps.sink({ type: 'transfer', reason, summary })
      return { ok: true, result: { transferring: true }, terminal: 'transfer' }
    }
    case 'search_knowledge': {
      if (!deps.knowledge) return { ok: false, result: { error: 'no knowledge base is configured' } }
      const hits = await deps.knowledge.search((args as { query: string }).query, { limit: deps.knowledgeLimit ?? 3 })
      const result = hits.length
        ? { results: hits.map((h) => ({ document: h.title, section: h.heading, text: h.content })) }
        : { results: [], note: 'nothing found: do not guess, offer a seller instead' }
      return { ok: true, result, knowledge: hits }
    }
    case 'end_call': {
      const { outcome, summary } = args as { outcome: CallOutcome; summary?: string }
      await deps.sink({ type: 'end_call', outcome, summary, reason: 'model' })
      return { ok: true, result: { ending: true }, terminal: 'end_call' }
    }
  }
}
