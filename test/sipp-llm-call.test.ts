// LLM agent mode end to end: SIPp calls and streams the caller's answers; the server streams
// each utterance to a local server speaking the Vosk WebSocket protocol, hands the text to a local
// server speaking the OpenAI chat-completions wire format (SSE), and speaks the reply through
// eSpeak NG. The reply must carry what the recogniser returned. A second call has the LLM answer
// too late: the filler phrase must go out within the reply budget, the apology at three budgets.
import t from 'tap'
import { FINAL_TEXT } from './providers/asr-servers.ts'
import { llmCall } from './helpers/llm-call.ts'

t.test("the bot's reply depends on what the recogniser returned", async (t) => {
  const { call, vosk, llm } = await llmCall(t, { firstTokenDelayMs: 0, replyBudgetMs: 8000 })
  t.ok(vosk.sessions.length >= 1, `the utterances were streamed to the recogniser (${vosk.sessions.length} streams)`)
  t.ok(vosk.sessions[0].audio.length > 16000, `audio reached it (${vosk.sessions[0].audio.length} bytes)`)
  t.equal(llm.requests[0]?.model, 'local-test')
  t.equal(llm.requests[0]?.messages.find((m) => m.role === 'user')?.content, FINAL_TEXT, 'the LLM got the recognised text')
  const caller = call.turns.find((x: any) => x.who === 'caller' && x.step === 'turn1')
  t.equal(caller?.text, FINAL_TEXT, 'the caller turn carries the recognised text')
  t.ok(caller?.timing?.asrFinalMs >= caller?.timing?.eouMs, 'ASR final recorded after the end of the utterance')
  const reply = call.turns.find((x: any) => x.who === 'bot' && x.step === 'turn1')
  t.match(reply?.text, new RegExp(`Вы сказали: ${FINAL_TEXT}`), `the reply speaks the recognised words: "${reply?.text}"`)
  const timing = reply?.timing ?? {}
  t.ok(timing.llmFirstTokenMs !== undefined && timing.ttsFirstAudioMs !== undefined && timing.firstRtpMs !== undefined, 'every stage of the reply timed')
  t.ok(timing.llmFirstTokenMs <= timing.ttsFirstAudioMs && timing.ttsFirstAudioMs <= timing.firstRtpMs, 'stages in order')
  t.comment(
    `turn 1: speech end ${caller?.timing?.speechEndMs}, EOU ${caller?.timing?.eouMs}, ASR final ${caller?.timing?.asrFinalMs}, LLM first token ${timing.llmFirstTokenMs}, TTS first audio ${timing.ttsFirstAudioMs}, first RTP ${timing.firstRtpMs}; own share ${timing.ownShareMs} ms`,
  )
  t.equal(call.lead?.outcome, 'lead')
  t.same(
    call.lead?.slots?.agentActions?.map((a: any) => a.type),
    ['end_call'],
    'the agent ended the call with end_call',
  )
  t.same(
    call.lead?.slots?.conversation?.messages?.filter((m: any) => m.role === 'user').map((m: any) => m.content),
    [FINAL_TEXT, FINAL_TEXT],
    'the conversation is stored with the lead',
  )
  t.equal(call.lead?.summary, `Сводка: Клиент: ${FINAL_TEXT}`, 'the model summarised the call from its transcript after the hang-up')
  const asked = llm.requests.find((r: any) => !r.tools)
  t.equal(asked?.messages.length, 2, 'one summary request: instructions and the transcript')
})

t.test('an LLM late past the reply budget gets the filler within the budget, then the apology', async (t) => {
  const budget = 800
  const { call } = await llmCall(t, { firstTokenDelayMs: 3000, replyBudgetMs: budget })
  const caller = call.turns.find((x: any) => x.who === 'caller' && x.step === 'turn1')
  const reply = call.turns.find((x: any) => x.who === 'bot' && x.step === 'turn1')
  const overrun = reply?.timing?.overruns?.[0]
  t.same(overrun && { stage: overrun.stage, action: overrun.action, budgetMs: overrun.budgetMs }, {
    stage: 'llm_first_token',
    action: 'filler',
    budgetMs: budget,
  })
  t.ok(overrun.atMs - caller.timing.eouMs <= budget + 100, `filler queued ${overrun.atMs - caller.timing.eouMs} ms after the end of the utterance`)
  t.ok(
    reply.timing.firstRtpMs - caller.timing.eouMs <= budget + 150,
    `the caller heard audio ${reply.timing.firstRtpMs - caller.timing.eouMs} ms after the end of the utterance, not ${3000} ms of silence`,
  )
  // Still nothing at three budgets: the reply is abandoned for the apology, and the call ends.
  t.same(
    reply.timing.overruns.map((o: any) => o.action),
    ['filler', 'apology'],
  )
  t.ok(reply.timing.overruns[1].atMs - caller.timing.eouMs <= 3 * budget + 100, 'the apology decision at three budgets')
  t.ok(
    call.turns.some((x: any) => x.who === 'bot' && x.step === 'apology'),
    'the apology was played',
  )
})

t.test('transfer_to_seller: the caller is sent to the seller with REFER after the reply is spoken', async (t) => {
  const { call } = await llmCall(t, { firstTokenDelayMs: 0, replyBudgetMs: 8000, transfer: true })
  // SIPp's scenario checked Refer-To (the number at the trunk domain), answered 202 and the
  // NOTIFYs, and expected our BYE: its success is the transfer on the wire.
  const reply = call.turns.find((x: any) => x.who === 'bot' && x.step === 'turn1')
  t.match(reply?.text, /Соединяю вас с менеджером/, 'the reply was spoken before the REFER')
  t.equal(call.endReason, 'transferred')
  t.equal(call.lead?.outcome, 'transferred')
  t.same(
    call.lead?.slots?.agentActions?.map((a: any) => a.type),
    ['transfer'],
  )
  t.equal(call.lead?.summary, `Сводка: Клиент: ${FINAL_TEXT}`, 'a transferred call is summarised too')
})
