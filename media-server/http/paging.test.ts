import t from 'tap'
import { pageOf } from './paging.ts'

const limits = { default: 50, max: 500 }
const page = (q: string) => pageOf(new URL(`http://x/api/calls?${q}`), limits)

t.test('limit and offset as every list reads them', async (t) => {
  t.same(page(''), { limit: 50, offset: 0 }, 'absent: the default from the start')
  t.same(page('limit=20&offset=40'), { limit: 20, offset: 40 })
  t.same(page('limit=0'), { limit: 50, offset: 0 }, 'zero rows is no page: the default (was a 500 on /api/calls)')
  t.same(page('limit=-5&offset=-5'), { limit: 50, offset: 0 }, 'negative: the default and the start')
  t.same(page('limit=abc&offset=xyz'), { limit: 50, offset: 0 }, 'not a number')
  t.same(page('limit=100000'), { limit: 500, offset: 0 }, 'too many: the maximum')
  t.same(page('limit=2.9&offset=1.5'), { limit: 2, offset: 1 }, 'fractions cut')
  t.same(page('limit=Infinity&offset=1e400'), { limit: 50, offset: 0 }, 'infinities are not numbers of rows')
})
