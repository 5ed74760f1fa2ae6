// The operator console in a real browser (Debian's chromium, driven by playwright-core): a seller
// signs in with Basic (API_TOKEN as the password), finds the call by its number, opens it, and the
// page's player loads, decodes and plays the recording through the API.
import { chromium } from 'playwright-core'
import t from 'tap'
import { caller, record, server, wait } from './helpers/fault-server.ts'
import { requireTool } from './helpers/system-tools.ts'

const TOKEN = 'console-test-token'

t.test('a seller finds a call in the console and hears it', async (t) => {
  requireTool('chromium', 'chromium')
  const s = await server(t, { API_TOKEN: TOKEN, RTP_PORT_MIN: '39000', RTP_PORT_MAX: '39099' })
  const c = await caller(t, s)
  c.invite()
  await c.next(/^SIP\/2\.0 200/)
  c.ack()
  c.startRtp()
  await wait(2500)
  c.bye()
  await c.next(/^SIP\/2\.0 200[\s\S]*CSeq: \d+ BYE/)
  const call = await record(s, c.callId, (x) => !x.live && !!x.endedAt && !!x.recordingPath)
  const base = `http://127.0.0.1:${s.httpPort}`

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] })
  t.teardown(() => browser.close())

  // a browser with no credentials would ask for them: this is what it is answered
  const stranger = await fetch(`${base}/`)
  t.equal(stranger.status, 401, 'no credentials: no console')
  t.match(stranger.headers.get('www-authenticate'), /Basic realm=/)

  const page = await (await browser.newContext({ httpCredentials: { username: 'seller', password: TOKEN } })).newPage()
  t.equal((await page.goto(`${base}/`))?.status(), 200, 'signed in with Basic')
  const row = page.locator(`tr[data-id="${call.id}"]`)
  await row.waitFor()
  t.equal(await row.locator('td').nth(2).textContent(), call.callerId, 'the call is listed with its number')
  await page.fill('#q', call.callerId.slice(-4))
  t.equal(await page.locator('tbody tr').count(), 1, 'found by the last digits of its number')
  await page.fill('#q', '0000000')
  t.equal(await page.locator('tbody tr').count(), 0, 'and not by others')
  await page.fill('#q', '')

  await row.click()
  await page.locator('#recording-length', { hasText: 'Запись' }).waitFor({ timeout: 15_000 })
  const seconds = Number(/([\d.]+)/.exec((await page.locator('#recording-length').textContent()) ?? '')?.[1])
  t.ok(seconds >= 2 && seconds < 10, `the browser decoded the recording: ${seconds} s, the call's length`)
  t.match(await page.locator('#detail').textContent(), /Здравствуйте/, "the bot's turn is shown")
  await page.evaluate(() => (document.getElementById('player') as HTMLAudioElement).play())
  // playing, not how fast: a loaded machine (CI runs the files side by side) starts it late
  const played = await page
    .waitForFunction(() => (document.getElementById('player') as HTMLAudioElement).currentTime > 0.3, undefined, { timeout: 10_000 })
    .then(() => page.evaluate(() => (document.getElementById('player') as HTMLAudioElement).currentTime))
    .catch(() => 0)
  t.ok(played > 0.3, `and plays it (${played.toFixed(2)} s in)`)
  t.match(page.url(), new RegExp(`#${call.id}$`), 'the address links to the call')
})
