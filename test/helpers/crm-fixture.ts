// What the CRM tests start with: a store of their own in a fresh data directory, and the fake
// Bitrix24 portal; both end with the test.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { FakePortal } from '../../crm/bitrix24/fake-portal.ts'
import { openStore } from '../../crm/open-store.ts'

export async function tempStore(t: Test, prefix: string): Promise<{ dataDir: string; store: Awaited<ReturnType<typeof openStore>> }> {
  const dataDir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const store = await openStore({ dataDir })
  t.teardown(() => store.close())
  return { dataDir, store }
}

export async function startedPortal(t: Test): Promise<FakePortal> {
  const portal = new FakePortal()
  await portal.start()
  t.teardown(() => portal.stop())
  return portal
}
