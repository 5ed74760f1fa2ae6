// LLM agent mode end to end, the parts the tests share: a local server speaking the OpenAI
// chat-completions wire format (SSE), and one SIPp call to a server process that streams the
// caller's answers to a local Vosk-protocol recogniser and speaks the replies through eSpeak NG.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { startVoskServer } from '../providers/asr-servers.ts'
import { chatChunk, SSE_DONE, SSE_HEADERS } from '../providers/wire-servers.ts'
import { buildCallerScript } from './caller-audio.ts'
import { renderScenario } from './scenario-file.ts'
import { startServerProcess } from './server-process.ts'
import { runSipp } from './sipp.ts'

const RTP_MIN = 31500
const RTP_MAX = 31599

export interface LlmServer {
  url: string
  requests: Array<{ model: string; messages: Array<{ role: string; content: string | null }> }>
  close(): Promise<void>
}

/** Turn 1: "Вы сказали: <the caller's words>." (or, transferring, a transfer_to_seller call).
 *  Turn 2: goodbye and end_call with `endOutcome` (the call ends). A request without tools is the summary after
 *  the hang-up: "Сводка: <the transcript's first line>". */
async function startLlmServer(firstTokenDelayMs: number, transfer = false, endOutcome = 'qualified'): Promise<LlmServer> {
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
          chatChunk({
            tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'end_call', arguments: JSON.stringify({ outcome: endOutcome }) } }],
          }),
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

export async function llmCall(
  t: Test,
  opts: { firstTokenDelayMs: number; replyBudgetMs: number; transfer?: boolean; endOutcome?: string; env?: Record<string, string> },
) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-llm-'))
  const script = await buildCallerScript(dataDir, 'ru', 700)
  const vosk = await startVoskServer()
  const llm = await startLlmServer(opts.firstTokenDelayMs, opts.transfer, opts.endOutcome)
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
  return { call, vosk, llm, server }
}
