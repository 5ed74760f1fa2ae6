import t from 'tap'
import { RU_AREA_CODES, SINGLE_ZONE_COUNTRIES } from './data/ru-area-codes.ts'
import { timeZoneOfNumber } from './number-region.ts'

t.test('Russian geographic numbers in several zones', async (t) => {
  const vectors: Array<[string, string, string]> = [
    ['+7 495 123-45-67', 'Europe/Moscow', 'Moscow'],
    ['+7 (499) 123 45 67', 'Europe/Moscow', 'Moscow'],
    ['+7 812 123 45 67', 'Europe/Moscow', 'Saint Petersburg'],
    ['+7 4012 12 34 56', 'Europe/Kaliningrad', 'Kaliningrad Oblast'],
    ['+7 846 123 45 67', 'Europe/Samara', 'Samara Oblast'],
    ['+7 8442 12 34 56', 'Europe/Volgograd', 'Volgograd Oblast'],
    ['+7 343 123 45 67', 'Asia/Yekaterinburg', 'Sverdlovsk Oblast'],
    ['+7 383 123 45 67', 'Asia/Novosibirsk', 'Novosibirsk Oblast'],
    ['+7 391 123 45 67', 'Asia/Krasnoyarsk', 'Krasnoyarsk Krai'],
    ['+7 3952 12 34 56', 'Asia/Irkutsk', 'Irkutsk Oblast'],
    ['+7 423 123 45 67', 'Asia/Vladivostok', 'Primorsky Krai'],
    ['+7 4212 12 34 56', 'Asia/Vladivostok', 'Khabarovsk Krai'],
    ['+7 4152 12 34 56', 'Asia/Kamchatka', 'Kamchatka Krai'],
    ['+7 8182 12 34 56', 'Europe/Moscow', 'Arkhangelsk Oblast'],
    ['+7 3652 12 34 56', 'Europe/Simferopol', 'Republic of Crimea'],
  ]
  for (const [number, zone, region] of vectors) t.same(timeZoneOfNumber(number), { zone, region, source: 'abc' }, number)
})

t.test('the longest code wins', async (t) => {
  t.equal(timeZoneOfNumber('+7 81853 4 12 34')?.region, 'Nenets Autonomous Okrug', '81853 inside 818')
  t.equal(timeZoneOfNumber('+7 81852 4 12 34')?.region, 'Arkhangelsk Oblast', 'the rest of 818')
})

t.test('the 8, 7 and +7 forms agree; other forms do not guess', async (t) => {
  const want = { zone: 'Asia/Yekaterinburg', region: 'Sverdlovsk Oblast', source: 'abc' }
  for (const form of ['+73431234567', '83431234567', '73431234567', '8 (343) 123-45-67', '7.343.123.45.67']) t.same(timeZoneOfNumber(form), want, form)
  t.equal(timeZoneOfNumber('3431234567'), undefined, 'ten digits without a prefix: not known to be Russian')
  t.equal(timeZoneOfNumber('+7343123456'), undefined, 'too short for +7')
  t.equal(timeZoneOfNumber('not a number'), undefined)
})

t.test('mobile, non-geographic and unknown codes give undefined', async (t) => {
  t.equal(timeZoneOfNumber('+7 916 123 45 67'), undefined, 'DEF 916')
  t.equal(timeZoneOfNumber('8 999 123 45 67'), undefined, 'DEF 999')
  t.equal(timeZoneOfNumber('8 800 555 35 35'), undefined, 'free phone 800')
  t.equal(timeZoneOfNumber('+7 500 123 45 67'), undefined, 'unassigned 5xx')
})

t.test('Kazakhstan and single-zone countries', async (t) => {
  t.same(timeZoneOfNumber('+7 727 123 45 67'), { zone: 'Asia/Almaty', region: 'Kazakhstan', source: 'country' }, 'Almaty landline')
  t.same(timeZoneOfNumber('8 701 123 45 67'), { zone: 'Asia/Almaty', region: 'Kazakhstan', source: 'country' }, 'Kazakh mobile, national form')
  t.same(timeZoneOfNumber('+375 29 123-45-67'), { zone: 'Europe/Minsk', region: 'Belarus', source: 'country' })
  t.same(timeZoneOfNumber('+380 44 123 45 67'), { zone: 'Europe/Kyiv', region: 'Ukraine', source: 'country' })
  t.same(timeZoneOfNumber('+49 30 1234567'), { zone: 'Europe/Berlin', region: 'Germany', source: 'country' })
  t.same(timeZoneOfNumber('+44 20 7946 0000'), { zone: 'Europe/London', region: 'United Kingdom', source: 'country' })
  t.same(timeZoneOfNumber('+998 71 123 45 67'), { zone: 'Asia/Tashkent', region: 'Uzbekistan', source: 'country' })
  t.equal(timeZoneOfNumber('+1 212 555 0100'), undefined, 'several zones: not guessed')
  t.equal(timeZoneOfNumber('375291234567'), undefined, 'international without +: not guessed')
})

t.test('the data: 85 subjects, valid zones, each code once, 3 to 5 digits', async (t) => {
  t.equal(RU_AREA_CODES.length, 85)
  t.equal(new Set(RU_AREA_CODES.map((r) => r.region)).size, 85, 'no subject twice')
  const codes = RU_AREA_CODES.flatMap((r) => r.codes)
  t.equal(new Set(codes).size, codes.length, 'no code twice')
  t.same(
    codes.filter((c) => !/^[348][0-9]{2,4}$/.test(c)),
    [],
    'ABC codes start with 3, 4 or 8',
  )
  const zones = [...RU_AREA_CODES.map((r) => r.zone), ...Object.values(SINGLE_ZONE_COUNTRIES).map((c) => c.zone), 'Asia/Almaty']
  t.same(
    zones.filter((zone) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: zone })
        return false
      } catch {
        return true
      }
    }),
    [],
    'every zone is known to Intl',
  )
  const countryCodes = Object.keys(SINGLE_ZONE_COUNTRIES)
  t.same(
    countryCodes.filter((a) => countryCodes.some((b) => a !== b && b.startsWith(a))),
    [],
    'country codes are prefix-free',
  )
})
