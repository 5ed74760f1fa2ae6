import t from 'tap'
import { MAX_CUSTOM_FIELDS, MAX_FIELD_LENGTH, MAX_ROWS, importContactsCsv, importContactsJson } from './contact-import.ts'

t.test("an Excel CSV in a Russian locale: ';', BOM, Cyrillic headers, CRLF", async (t) => {
  const csv =
    '\uFEFFТелефон;Имя;Часовой пояс;Регион;Компания;Город\r\n' +
    '8 (916) 123-45-67;Иван Петров;Europe/Moscow;Москва;ООО "Ромашка";Москва\r\n' +
    '"+7 343 123 45 67";"Анна; старший менеджер";;Свердловская область;"ИП ""Сидоров""";Екатеринбург\r\n' +
    ';;;;;\r\n' +
    '\r\n' +
    '89161234567;Дубль;;;;\r\n'
  const r = importContactsCsv(csv)
  t.same(r.errors, [])
  t.equal(r.duplicates, 1, 'the same number written another way is a duplicate')
  t.same(r.contacts, [
    { phone: '+79161234567', name: 'Иван Петров', timeZone: 'Europe/Moscow', region: 'Москва', fields: { Компания: 'ООО "Ромашка"', Город: 'Москва' } },
    { phone: '+73431234567', name: 'Анна; старший менеджер', region: 'Свердловская область', fields: { Компания: 'ИП "Сидоров"', Город: 'Екатеринбург' } },
  ])
})

t.test('a comma CSV with bad rows: each reported with its line, the good rows kept', async (t) => {
  const csv = [
    'phone,name,tz,note',
    '+79161234567,Ok,Asia/Yekaterinburg,first',
    ',No phone,,',
    'call me,Bad phone,,',
    '+79031234567,Bad zone,Europe/Moskva,',
    '+79051234567,Too many,,x,extra',
    '+79061234567,Too few',
    `+79071234567,Long,,${'x'.repeat(MAX_FIELD_LENGTH + 1)}`,
    '+79081234567,"Two',
    'lines",,last',
  ].join('\n')
  const r = importContactsCsv(csv)
  t.same(
    r.contacts.map((c) => [c.phone, c.name, c.timeZone, c.fields.note]),
    [
      ['+79161234567', 'Ok', 'Asia/Yekaterinburg', 'first'],
      ['+79081234567', 'Two\nlines', undefined, 'last'],
    ],
  )
  t.same(r.errors, [
    { line: 3, error: 'no phone number' },
    { line: 4, error: "'call me' is not a phone number: expected 3 to 15 digits, optionally after +" },
    { line: 5, error: "time zone 'Europe/Moskva' is not a valid IANA zone (e.g. Europe/Moscow)" },
    { line: 6, error: 'the row has 5 fields, the header has 4' },
    { line: 7, error: 'the row has 2 fields, the header has 4' },
    { line: 8, error: `'note' is longer than ${MAX_FIELD_LENGTH} characters` },
  ])
  t.equal(r.duplicates, 0)
})

t.test('problems with the whole CSV file throw', async (t) => {
  t.throws(() => importContactsCsv(''), /empty; a header row is required/)
  t.throws(() => importContactsCsv('name,city\nIvan,Moscow'), /no phone column .* the header has name, city/)
  t.throws(() => importContactsCsv('phone,телефон\n1,2'), /header: 'phone' and 'телефон' both give the phone/)
  t.throws(() => importContactsCsv('phone,city,city\n1,2,3'), /column 'city' appears twice/)
  t.throws(() => importContactsCsv('phone,,city\n1,2,3'), /column 2 of the header has no name/)
  t.throws(() => importContactsCsv('phone,name\n+79161234567,"unclosed\n'), /contacts CSV: .*quote/i)
  const wide = ['phone', ...Array.from({ length: MAX_CUSTOM_FIELDS + 1 }, (_, i) => `f${i}`)].join(',')
  t.throws(() => importContactsCsv(`${wide}\n`), new RegExp(`${MAX_CUSTOM_FIELDS + 1} custom fields; at most ${MAX_CUSTOM_FIELDS}`))
  const rows = Array.from({ length: MAX_ROWS + 1 }, (_, i) => String(1000 + i))
  t.throws(() => importContactsCsv(['phone', ...rows].join('\n')), new RegExp(`more than ${MAX_ROWS} rows`))
  t.equal(importContactsCsv(['phone', ...rows.slice(1)].join('\n')).contacts.length, MAX_ROWS, 'exactly the limit is accepted')
})

t.test('a JSON array', async (t) => {
  const r = importContactsJson([
    { phone: 79161234567, name: 'Ivan', timezone: 'Asia/Kamchatka', company: 'Acme', score: 7, note: null },
    { телефон: '8 916 765-43-21', имя: 'Пётр', регион: 'Москва' },
    { phone: '+7 916 123 45 67', name: 'duplicate' },
    'not an object',
    { phone: '+79161111111', tags: ['a'] },
    { phone: '+79162222222', tel: '+79163333333' },
    { name: 'no phone' },
  ])
  t.same(r.contacts, [
    { phone: '+79161234567', name: 'Ivan', timeZone: 'Asia/Kamchatka', fields: { company: 'Acme', score: '7' } },
    { phone: '+79167654321', name: 'Пётр', region: 'Москва', fields: {} },
  ])
  t.equal(r.duplicates, 1)
  t.same(r.errors, [
    { line: 4, error: 'expected an object' },
    { line: 5, error: "'tags' must be a string or a number" },
    { line: 6, error: "'phone' and 'tel' both give the phone" },
    { line: 7, error: 'no phone number' },
  ])
  const own = importContactsJson(JSON.parse('[{"phone": "+79164444444", "__proto__": "kept"}]'))
  t.same(Object.entries(own.contacts[0].fields), [['__proto__', 'kept']], 'a JSON key named __proto__ stays a field')

  t.throws(() => importContactsJson({ phone: '1' }), /expected an array of objects/)
  const wide = Object.fromEntries([['phone', '+79161234567'], ...Array.from({ length: MAX_CUSTOM_FIELDS + 1 }, (_, i) => [`f${i}`, 'x'])])
  t.same(importContactsJson([wide]).errors, [
    { line: 1, error: `${MAX_CUSTOM_FIELDS + 1} custom fields; at most ${MAX_CUSTOM_FIELDS} besides phone, name, timezone, region and consent` },
  ])
  t.throws(() => importContactsJson(Array.from({ length: MAX_ROWS + 1 }, () => ({}))), new RegExp(`more than ${MAX_ROWS}`))
})

t.test('consent: yes and no as spreadsheets and CRMs write them; anything else is the row’s error', async (t) => {
  const csv = ['Телефон;Согласие', '+79160000001;да', '+79160000002;Нет', '+79160000003;', '+79160000004;1', '+79160000005;может быть'].join('\n')
  const r = importContactsCsv(csv)
  t.same(
    r.contacts.map((c) => [c.phone, c.consent]),
    [
      ['+79160000001', true],
      ['+79160000002', false],
      ['+79160000003', undefined],
      ['+79160000004', true],
    ],
  )
  t.same(r.errors, [{ line: 6, error: "consent 'может быть' is neither yes nor no (yes/no, да/нет, 1/0)" }])
  t.same(r.contacts[0].fields, {}, 'consent is no custom field')
  const json = importContactsJson([
    { phone: '+79160000006', consent: true },
    { phone: '+79160000007', consent: false },
  ])
  t.same(
    json.contacts.map((c) => c.consent),
    [true, false],
    'JSON booleans',
  )
})
