// LLM agent mode end to end: SIPp calls and streams the caller's answers; the server streams
// each utterance to a local server speaking the Vosk WebSocket protocol, hands the text to a local
// server speaking the OpenAI chat-completions wire format (SSE), and speaks the reply through
// eSpeak NG. The reply must carry what the recogniser returned. A second call has the LLM answer
// too late: the filler phrase must go out within the reply budget, the apology at three budgets.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { FINAL_TEXT, startVoskServer } from './providers/asr-servers.ts'
import { chatChunk, SSE_DONE, SSE_HEADERS } from './providers/wire-servers.ts'
import { buildCallerScript } from './helpers/caller-audio.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { startServerProcess } from './helpers/server-process.ts'
import { runSipp } from './helpers/sipp.ts'
import { FakePortal } from '../crm/bitrix24/fake-portal.ts'

const RTP_MIN = 31500
const RTP_MAX = 31599

interface LlmServer {
  url: string
  requests: Array<{ model: string; messages: Array<{ role: string; content: string | null }> }>
  close(): Promise<void>
}

/** Turn 1: "Вы сказали: <the caller's words>." (or, transferring, a transfer_to_seller call).
 *  Turn 2: goodbye and end_call (the call ends). A request without tools is the summary after
 *  the hang-up: "Сводка: <the transcript's first line>". */
async function startLlmServer(firstTokenDelayMs: number, transfer = false): Promise<LlmServer> {
  const requests: LlmServer['requests'] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', async () => {
      const r = JSON.parse(body)
      requests.push(r)
      const users = r.messages.filter((m: { role: string }) => m.role === 'user')
      const lastUser = users[users.length - 1]?.content ?? ''
      const toolTurn = r.messages[r.messages.length - 1]?.role === 'tool'
      res.writeHead(200, SSE_HEADERS)
      if (!r.tools) {
        res.write(chatChunk({ content: `Сводка: ${lastUser.split('\n')[0]}` }))
        res.write(chatChunk({}, 'stop'))
      } else if (transfer && !toolTurn) {
        res.write(chatChunk({ content: 'Соединяю вас с менеджером.' }))
        res.write(
          chatChunk({
            tool_calls: [{ index: 0, id: 'call_t', type: 'function', function: { name: 'transfer_to_seller', arguments: '{"reason":"hot lead"}' } }],
          }),
        )
        res.write(chatChunk({}, 'tool_calls'))
      } else if (users.length === 1 && !toolTurn) {
        await new Promise((resolve) => setTimeout(resolve, firstTokenDelayMs))
        for (const piece of ['Вы сказали: ', lastUser, '. ', 'Чем я могу помочь?']) res.write(chatChunk({ content: piece }))
        res.write(chatChunk({}, 'stop'))
      } else {
        res.write(chatChunk({ content: 'Спасибо, до свидания!' }))
        res.write(
          chatChunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'end_call', arguments: '{"outcome":"qualified"}' } }] }),
        )
        res.write(chatChunk({}, 'tool_calls'))
      }
      res.end(SSE_DONE)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  }
}

async function llmCall(t: Test, opts: { firstTokenDelayMs: number; replyBudgetMs: number; transfer?: boolean; env?: Record<string, string> }) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-llm-'))
  const script = await buildCallerScript(dataDir, 'ru', 700)
  const vosk = await startVoskServer()
  const llm = await startLlmServer(opts.firstTokenDelayMs, opts.transfer)
  t.teardown(async () => {
    await vosk.close()
    await llm.close()
  })
  const server = await startServerProcess({
    DATA_DIR: dataDir,
    RTP_PORT_MIN: String(RTP_MIN),
    RTP_PORT_MAX: String(RTP_MAX),
    LANGUAGE: 'ru',
    ASR_PROVIDERS: 'vosk',
    VOSK_URL: vosk.url,
    LLM_BASE_URL: llm.url,
    LLM_MODEL: 'local-test',
    LLM_API_KEY: 'sk-test-secret',
    REPLY_BUDGET_MS: String(opts.replyBudgetMs),
    LISTEN_NO_INPUT_MS: '4000',
    TRANSFER_TARGET: '89990001122',
    TRANSFER_DOMAIN: 'pbx.example.com',
    ...opts.env,
  })
  t.teardown(() => server.stop())
  const scenario = opts.transfer
    ? renderScenario('uac-transfer-accept.xml', dataDir, {
        TARGET_RE: 'sip:89990001122@pbx\\.example\\.com',
        MEDIA_PORT: '[rtpstream_audio_port]',
        MEDIA: `<nop><action><exec rtp_stream="${script.wav},1,0" /></action></nop>`,
      })
    : renderScenario('uac-answers.xml', dataDir, { WAV: script.wav, PT: 0, CODEC: 'PCMU', BYE_TIMEOUT_MS: Math.round((script.totalSeconds + 40) * 1000) })
  const sipp = await runSipp(scenario, `127.0.0.1:${server.sipPort}`, ['-m', '1', '-l', '1', '-mp', '32500'])
  t.equal(sipp.code, 0, `SIPp passed its scenario (${sipp.stderr.slice(-300)})`)
  const list = (await server.api('/api/calls')).body.calls
  // The summary is written after the hang-up, once the model has answered.
  let call = (await server.api(`/api/calls/${list[0].id}`)).body
  for (const deadline = Date.now() + 10_000; !call.lead?.summary && Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    call = (await server.api(`/api/calls/${list[0].id}`)).body
  }
  t.notOk(JSON.stringify(call).includes('sk-test-secret'), 'the API key is not in the call record')
  t.notOk(server.logs.join('\n').includes('sk-test-secret'), 'the API key is not in the logs')
  return { call, vosk, llm }
}

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

t.test('a caller the CRM knows: the agent is told their name and lead; the call lands on that lead', async (t) => {
  const portal = new FakePortal()
  await portal.start()
  t.teardown(() => portal.stop())
  // SIPp calls from 79161234567
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
