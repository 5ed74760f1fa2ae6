// Scenario mode's answer to a question the scenario itself has no FAQ entry for: the sentences of
// the best knowledge-base chunks that share the question's words, read out as they are written
// (the company's own material, so nothing is made up). No answer when the match is weak: then
// the scenario's polite redirect stands and the question goes to the seller.
import { sentences } from './chunker.ts'
import type { KnowledgeAnswers, KnowledgeHit } from './knowledge-base.ts'

export interface SpokenAnswer {
  text: string
  hit: KnowledgeHit
}

/** Long enough for a price and its condition, short enough for the caller to keep in mind. */
const MAX_CHARS = 280

/**
 * What to read out: of the top chunks' sentences, each with the sentence after it when both fit,
 * the one that shares most of the question's words (the earlier one on a tie); it must share at
 * least two of them (or the question's only one).
 */
export async function spokenAnswer(kb: KnowledgeAnswers, question: string): Promise<SpokenAnswer | undefined> {
  const hits = await kb.search(question, { limit: 3 })
  const candidates = hits.flatMap((hit) =>
    sentences(hit.content, MAX_CHARS).map((text, i, all) => ({
      hit,
      text: all[i + 1] && text.length + 1 + all[i + 1].length <= MAX_CHARS ? `${text} ${all[i + 1]}` : text,
    })),
  )
  const matches = await kb.matchSentences(
    question,
    candidates.map((c) => c.text),
  )
  let best = -1
  matches.forEach((m, i) => {
    if (m.matched > (matches[best]?.matched ?? 0)) best = i
  })
  const m = matches[best]
  if (!m || m.matched < Math.min(2, m.asked)) return undefined
  return candidates[best]
}
