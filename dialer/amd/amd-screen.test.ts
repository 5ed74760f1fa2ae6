import t from 'tap'
import { AmdScreen } from './amd-screen.ts'

const QUIET = new Int16Array(256)

t.test('decision(): on the window that makes it, at the analysis time, or at the hang-up', async (t) => {
  let now = 0
  const screen = new AmdScreen(8000, () => now)
  const decided = screen.decision()
  for (let endMs = 32; endMs <= 2000; endMs += 32) {
    now = endMs
    screen.window({ pcm: QUIET, endMs, speechProb: endMs <= 320 ? 0.9 : 0 })
  }
  t.same(await decided, { result: 'human', reason: 'short-greeting-then-silence', decisionMs: 1120 })

  const silent = new AmdScreen(8000, () => 10, { totalAnalysisMs: 30 })
  t.match(await silent.decision(), { result: 'unknown', reason: 'timeout' }, 'no audio at all: unknown when the time is up')

  const hungUp = new AmdScreen(8000, () => 700)
  const pending = hungUp.decision()
  hungUp.close()
  t.same(await pending, { result: 'unknown', reason: 'hangup', decisionMs: 700 })
})

t.test('greetingEnd(): waits for the machine greeting to end, or gives up', async (t) => {
  let now = 0
  const screen = new AmdScreen(8000, () => now)
  const push = (p: number, ms: number) => {
    for (let i = 0; i < ms; i += 32) screen.window({ pcm: QUIET, endMs: (now += 32), speechProb: p })
  }
  push(0.9, 1600)
  t.match(await screen.decision(), { result: 'machine', reason: 'long-greeting' })
  const end = screen.greetingEnd()
  push(0.9, 640)
  push(0, 1280)
  t.match(await end, { by: 'silence' })
  t.equal(await new AmdScreen(8000, () => 0).greetingEnd(20), undefined, 'nothing heard in time: undefined')
})
