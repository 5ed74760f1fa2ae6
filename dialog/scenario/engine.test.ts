import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { Lang } from '../slots/types.ts'
import { NOW } from '../slots/test-context.ts'
import { ScenarioEngine, type Action } from './engine.ts'
import { loadScenarioFile } from './loader.ts'

const scenario = await loadScenarioFile(fileURLToPath(new URL('../scenarios/sales.yaml', import.meta.url)))

type Event = string | { dtmf: string } | { clip: string } | 'SILENCE'

/** A scripted caller at the dialog boundary: events in, every action the engine gave kept. */
function converse(lang: Lang, events: Event[]) {
  const e = new ScenarioEngine({ scenario, language: lang, now: () => NOW })
  const turns: Action[][] = [e.start()]
  for (const ev of events) {
    if (ev === 'SILENCE') turns.push(e.onNoInput())
    else if (typeof ev === 'string') turns.push(e.onUtterance(ev))
    else if ('dtmf' in ev) turns.push(e.onDtmf(ev.dtmf))
    else turns.push(e.onClip(ev.clip))
  }
  const all = turns.flat()
  return {
    e,
    turns,
    /** the step each listen waited in, in order */
    listens: all.filter((a) => a.type === 'listen').map((a) => a.step),
    said: all.filter((a) => a.type === 'say').map((a) => a.text),
    last: turns[turns.length - 1],
    outcome: e.state.outcome,
    value: (slot: string) => e.state.slots[slot]?.value,
  }
}

const sayText = (a: Action[]) => a.filter((x) => x.type === 'say').map((x) => (x as { text: string }).text)
const kinds = (a: Action[]) => a.map((x) => x.type)

const HAPPY: Record<Lang, string[]> = {
  ru: [
    'да, удобно',
    'меня зовут Иван Петров',
    'ООО Ромашка',
    'нужна CRM для отдела продаж на двадцать человек',
    'около двухсот тысяч рублей',
    'восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь',
    'да, верно',
    'завтра после обеда',
    'иван точка петров собака ромашка точка ру',
    'нет, спасибо',
  ],
  en: [
    'yes, sure',
    'my name is John Smith',
    "I'm from Acme Inc",
    'we need a CRM for a sales team of twenty',
    'about two hundred thousand',
    'nine one six one two three four five six seven',
    "yes, that's right",
    'tomorrow afternoon',
    'john dot smith at acme dot com',
    'no, that is all',
  ],
}

for (const lang of ['ru', 'en'] as const) {
  t.test(`${lang}: a caller who answers everything books a callback`, async (t) => {
    const c = converse(lang, HAPPY[lang])
    t.same(c.listens, ['greeting', 'ask_name', 'ask_company', 'ask_need', 'ask_budget', 'ask_phone', 'confirm_phone', 'ask_callback', 'ask_email', 'questions'])
    t.equal(c.value('email'), lang === 'ru' ? 'ivan.petrov@romashka.ru' : 'john.smith@acme.com')
    t.equal(c.outcome, 'callback_booked')
    t.same(kinds(c.last), ['say', 'setOutcome', 'hangup'])
    t.equal(c.value('consent'), true)
    t.equal(c.value('name'), lang === 'ru' ? 'Иван Петров' : 'John Smith')
    t.same(c.value('company'), { name: lang === 'ru' ? 'ООО Ромашка' : 'Acme Inc', private: false })
    t.equal(c.value('budget'), 200000)
    t.equal(c.value('phone'), '+79161234567')
    t.same(
      c.value('callback'),
      lang === 'ru'
        ? { start: '2026-12-03T14:00:00+03:00', end: '2026-12-03T18:00:00+03:00' }
        : { start: '2026-12-03T12:00:00+03:00', end: '2026-12-03T17:00:00+03:00' },
    )
    t.match(c.value('need'), lang === 'ru' ? /CRM для отдела продаж/ : /CRM for a sales team/)
    t.equal(c.e.state.slots.name.raw, HAPPY[lang][1], 'the raw words are kept next to the value')
    const final = sayText(c.last)[0]
    t.equal(
      final,
      lang === 'ru'
        ? 'Спасибо, Иван Петров! Менеджер перезвонит вам завтра, 3 декабря с 14:00 до 18:00. До свидания!'
        : 'Thank you, John Smith! A manager will call you back tomorrow, December 3, 12:00–17:00. Goodbye!',
    )
    t.ok(
      c.said.some((s) => s.includes('+7 916 123-45-67')),
      'the number is read back for confirmation',
    )
    t.same(c.e.onUtterance('алло'), [], 'nothing happens after the end')
  })

  t.test(`${lang}: a hot lead is offered a seller and transferred`, async (t) => {
    const script = [
      ...HAPPY[lang].slice(0, 4),
      lang === 'ru' ? 'полтора миллиона' : '1.5 million',
      HAPPY[lang][5],
      HAPPY[lang][6],
      lang === 'ru' ? 'да, давайте' : 'yes please',
    ]
    const c = converse(lang, script)
    t.same(c.listens.slice(-2), ['confirm_phone', 'offer_transfer'])
    t.equal(c.value('budget'), 1500000)
    t.equal(c.outcome, 'transferred')
    t.same(kinds(c.last), ['saveSlot', 'say', 'setOutcome', 'transfer'])
    t.same(c.last.at(-1), { type: 'transfer', target: 'seller' })
  })

  t.test(`${lang}: a hot lead who declines, any time for the callback: qualified lead`, async (t) => {
    const script = [
      ...HAPPY[lang].slice(0, 4),
      lang === 'ru' ? 'пятьсот тысяч' : 'half a million',
      HAPPY[lang][5],
      HAPPY[lang][6],
      lang === 'ru' ? 'нет, не надо' : 'no, not now',
      lang === 'ru' ? 'в любое время' : 'any time',
      lang === 'ru' ? 'не нужно' : 'no need',
      lang === 'ru' ? 'нет' : 'no',
    ]
    const c = converse(lang, script)
    t.same(c.listens.slice(-4), ['offer_transfer', 'ask_callback', 'ask_email', 'questions'])
    t.equal(c.value('email'), undefined, '"no need" skips the e-mail and does not end the call')
    t.equal(c.outcome, 'qualified_lead')
    t.equal(c.value('callback'), undefined)
  })
}

t.test('not interested: at the greeting and in the middle of the call', async (t) => {
  t.equal(converse('ru', ['нет']).outcome, 'not_interested')
  t.equal(converse('en', ['no']).outcome, 'not_interested')
  const ru = converse('ru', ['да', 'Иван', 'знаете, мне это не интересно'])
  t.equal(ru.outcome, 'not_interested')
  t.equal(sayText(ru.last)[0], 'Понимаю. Спасибо, что уделили время. Всего доброго!')
  t.equal(converse('en', ['yes', 'John', "sorry, we're not interested"]).outcome, 'not_interested')
})

t.test('do not call: asked at the greeting or later, it ends the call with its own outcome (not "not interested")', async (t) => {
  t.equal(converse('ru', ['больше мне не звоните']).outcome, 'do_not_call')
  const ru = converse('ru', ['да', 'Иван', 'удалите мой номер пожалуйста'])
  t.equal(ru.outcome, 'do_not_call')
  t.equal(sayText(ru.last)[0], 'Понятно, больше вам не позвоним. Извините за беспокойство. Всего доброго!')
  t.equal(converse('en', ["please don't call me again"]).outcome, 'do_not_call')
  t.equal(converse('en', ['yes', 'John', 'stop calling this number']).outcome, 'do_not_call')
  t.equal(converse('ru', ['нет, спасибо, не интересно']).outcome, 'not_interested')
})

t.test('wrong number, in both languages, at any step', async (t) => {
  t.equal(converse('ru', ['вы ошиблись номером']).outcome, 'wrong_number')
  t.equal(converse('ru', ['да', 'куда я попал? я никуда не звонил']).outcome, 'wrong_number')
  t.equal(converse('en', ['I think you have the wrong number']).outcome, 'wrong_number')
})

t.test('no answer: one reprompt on silence, then goodbye', async (t) => {
  for (const lang of ['ru', 'en'] as const) {
    const c = converse(lang, ['SILENCE', 'SILENCE'])
    t.same(kinds(c.turns[1]), ['say', 'listen'])
    t.equal(sayText(c.turns[1])[0], lang === 'ru' ? 'Извините, я вас не слышу. Повторите, пожалуйста.' : 'Sorry, I cannot hear you. Could you say that again?')
    t.same(kinds(c.turns[2]), ['say', 'setOutcome', 'hangup'])
    t.equal(c.outcome, 'no_answer')
  }
  const later = converse('ru', ['да', 'SILENCE', 'SILENCE'])
  t.same(later.listens, ['greeting', 'ask_name', 'ask_name', 'ask_company'], 'a silent name is skipped, not the end of the call')
})

t.test("no match to the retry limit: reprompts with the step's own words, then moves on", async (t) => {
  const c = converse('ru', ['да', 'Иван', 'Ромашка', 'CRM', 'ну вот как-то так', 'сложно объяснить словами', 'эээ ну вот'])
  t.same(c.listens.slice(-4), ['ask_budget', 'ask_budget', 'ask_budget', 'ask_phone'])
  t.equal(sayText(c.turns[5])[0], 'Назовите, пожалуйста, сумму, например «двести тысяч рублей», или скажите «не знаю».')
  t.equal(c.e.state.retries.noMatch, 0, 'retries start again in the next step')
  const en = converse('en', ['yes', 'what', 'hmm', 'pardon'])
  t.same(en.listens, ['greeting', 'ask_name', 'ask_name', 'ask_name', 'ask_company'])
  t.equal(sayText(en.turns[2])[0], 'Sorry, I did not catch your name. How should I address you?')
  t.equal(converse('ru', ['да', 'Иван', 'Ромашка', 'CRM', 'пока не знаю']).listens.at(-1), 'ask_phone', '"не знаю" for the budget moves on at once')
})

t.test('DTMF: keys for yes/no, a typed phone number, 0 for a person', async (t) => {
  const c = converse('ru', [{ dtmf: '1' }, 'Иван', 'Ромашка', 'CRM', '100 тысяч', { dtmf: '89161234567#' }, { dtmf: '2' }, { dtmf: '+79167654321#' }])
  t.same(c.listens, ['greeting', 'ask_name', 'ask_company', 'ask_need', 'ask_budget', 'ask_phone', 'confirm_phone', 'ask_phone', 'confirm_phone'])
  t.equal(c.e.state.slots.phone.source, 'dtmf')
  t.match(sayText(c.turns[6])[0], /^Ваш номер \+7 916 123-45-67, верно\?/)
  t.equal(c.value('phone_ok'), false)
  t.equal(c.value('phone'), '+79167654321')
  t.equal(c.value('consent'), true)
  t.equal(c.e.state.slots.consent.display, 'да')
  const greeting = converse('en', []).turns[0].find((a) => a.type === 'listen')
  t.same(greeting && 'dtmf' in greeting && greeting.dtmf, { maxDigits: 1, terminator: '#', interDigitMs: 4000 })
  const phoneListen = c.turns[5].find((a) => a.type === 'listen')
  t.same(phoneListen && 'dtmf' in phoneListen && phoneListen.dtmf, { maxDigits: 15, terminator: '#', interDigitMs: 5000 })
  t.equal(converse('en', [{ dtmf: '0' }]).outcome, 'transferred', '0 at the greeting asks for a person')
  const bad = converse('ru', [{ dtmf: '1' }, 'Иван', 'Ромашка', 'CRM', '100 тысяч', { dtmf: '123#' }])
  t.same(bad.listens.slice(-2), ['ask_phone', 'ask_phone'], 'three digits are no phone number: asked again')
  t.equal(converse('ru', [{ dtmf: '7' }]).listens.at(-1), 'greeting', 'an unmapped key is not understood')
})

t.test('per-step turn-taking knobs reach the listen action', async (t) => {
  const c = converse('ru', ['да', 'Иван', 'Ромашка'])
  const need = c.turns[3].find((a) => a.type === 'listen')
  t.same(need, { type: 'listen', step: 'ask_need', slot: 'need', endSilenceMs: 1000, maxUtteranceMs: 30000, noInputMs: 6000, dtmf: null })
  const say = c.turns[3].find((a) => a.type === 'say')
  t.same(say && { ...say, text: '' }, { type: 'say', text: '', language: 'ru', interruptible: true, step: 'ask_need', prompt: 'prompt' })
  const end = converse('ru', ['нет']).last.find((a) => a.type === 'say')
  t.equal(end && 'interruptible' in end && end.interruptible, false, 'goodbyes are not cut off by barge-in')
})

t.test('corrections: an earlier name, a confirmed phone number', async (t) => {
  const ru = converse('ru', ['да', 'меня зовут Иван', 'нет, не Иван, а Игорь', 'Ромашка'])
  t.equal(ru.value('name'), 'Игорь')
  t.same(sayText(ru.turns[3]), ['Поправил, спасибо.', 'Приятно познакомиться, Игорь. Какую компанию вы представляете?'])
  t.equal(ru.listens.at(-1), 'ask_need')
  const en = converse('en', ['yes', 'John', "no, not John, it's Jack"])
  t.equal(en.value('name'), 'Jack')
  t.same(sayText(en.turns[3]), ['Corrected, thank you.', 'Nice to meet you, Jack. Which company are you with?'])
  const phone = converse('ru', [
    'да',
    'Иван',
    'Ромашка',
    'CRM',
    '100 тысяч',
    '89161234567',
    'нет, мой номер восемь девятьсот шестнадцать семьсот шестьдесят пять сорок три двадцать один',
    'да',
  ])
  t.equal(phone.value('phone'), '+79167654321')
  t.match(sayText(phone.turns[7])[0], /^Ваш номер \+7 916 765-43-21, верно\?/, 'the new number is confirmed again')
  t.same(phone.listens.slice(-3), ['confirm_phone', 'confirm_phone', 'ask_callback'])
  const en2 = converse('en', ['yes', 'John', 'Acme', 'CRM', '100k', '9161234567', 'no', '9167654321', 'yes'])
  t.same(en2.listens.slice(-4), ['confirm_phone', 'ask_phone', 'confirm_phone', 'ask_callback'], '"no" goes back to ask the number')
})

t.test('out-of-scope questions: FAQ answers, polite redirects, the FAQ step', async (t) => {
  const ru = converse('ru', ['да', 'Иван', 'Ромашка', 'а сколько это стоит?', 'а какая у вас гарантия?', 'нужна CRM'])
  t.same(sayText(ru.turns[4]), [
    'Стоимость зависит от задачи и объёма. Точный расчёт подготовит менеджер после разговора.',
    'Расскажите, пожалуйста, что вас интересует? Какую задачу хотите решить?',
  ])
  t.equal(sayText(ru.turns[5])[0], 'Хороший вопрос. Я передам его менеджеру, он ответит подробно.')
  t.same(ru.e.state.questions, ['а какая у вас гарантия?'], 'unanswered questions are kept for the seller')
  t.equal(ru.value('need'), 'нужна CRM', 'a question is not taken for the need')
  const en = converse('en', ['who are you?', 'yes', 'John'])
  t.match(sayText(en.turns[1])[0], /^I am the sales department's voice assistant/)
  t.same(en.listens, ['greeting', 'greeting', 'ask_name', 'ask_company'])
  const faq = converse('ru', [...HAPPY.ru.slice(0, 9), 'да, есть', 'когда вы работаете?', 'а скидки бывают?', 'нет, всё понятно'])
  t.same(faq.listens.slice(-4), ['questions', 'listen_question', 'listen_question', 'listen_question'])
  t.same(sayText(faq.turns[11]), ['Менеджеры работают по будням с девяти до восемнадцати часов по Москве.', 'Что-нибудь ещё?'])
  t.same(sayText(faq.turns[12]), ['Хороший вопрос. Я передам его менеджеру, он ответит подробно.', 'Что-нибудь ещё?'])
  t.equal(faq.outcome, 'callback_booked')
  const enFaq = converse('en', [...HAPPY.en.slice(0, 9), 'how much does it cost?', 'no'])
  t.match(sayText(enFaq.turns[10])[0], /^The price depends on the task/)
  t.equal(enFaq.outcome, 'callback_booked')
  const enAsk = converse('en', [...HAPPY.en.slice(0, 9), 'yes, I have one', 'what are your hours?', 'do you offer discounts?', 'nothing, thanks'])
  t.same(enAsk.listens.slice(-4), ['questions', 'listen_question', 'listen_question', 'listen_question'])
  t.same(sayText(enAsk.turns[11]), ['Our sales managers work on weekdays from nine to six, Moscow time.', 'Anything else?'])
  t.same(enAsk.e.state.questions, ['do you offer discounts?'])
  t.equal(enAsk.outcome, 'callback_booked')
  const silent = converse('ru', [...HAPPY.ru.slice(0, 9), 'SILENCE'])
  t.equal(silent.outcome, 'callback_booked', 'silence after "any questions?" ends the call as booked')
  const silentEn = converse('en', ['yes', 'John', 'Acme', 'CRM', '100k', '9161234567', 'yes', 'whenever', 'SILENCE', 'SILENCE'])
  t.equal(silentEn.outcome, 'qualified_lead', 'no callback time: a qualified lead')
})

t.test('a callback asked for early, with its time, is booked at once', async (t) => {
  const c = converse('ru', ['перезвоните завтра в десять утра'])
  t.same(c.value('callback'), { start: '2026-12-03T10:00:00+03:00' })
  t.same(c.listens, ['greeting', 'ask_email'], 'booked: on to where the proposal goes')
  const en = converse('en', ['yes', 'John', "I'm busy, call me back later"])
  t.same(en.listens.at(-1), 'ask_callback', 'without a time the callback step asks for one')
  t.equal(converse('ru', ['да', 'Иван', 'соедините с менеджером']).outcome, 'transferred', 'a person, asked for at any step')
})

t.test('without ASR every answer is a clip and the scenario still files a lead', async (t) => {
  const c = converse('ru', [
    { clip: 'greeting-1.wav' },
    { clip: 'name-2.wav' },
    { clip: 'company-3.wav' },
    { clip: 'need-4.wav' },
    { clip: 'budget-5.wav' },
    { dtmf: '89161234567#' },
    { dtmf: '1' },
    { clip: 'callback-6.wav' },
    { clip: 'email-7.wav' },
    { clip: 'questions-8.wav' },
  ])
  t.same(c.listens, ['greeting', 'ask_name', 'ask_company', 'ask_need', 'ask_budget', 'ask_phone', 'confirm_phone', 'ask_callback', 'ask_email', 'questions'])
  t.equal(c.e.state.slots.email.clip, 'email-7.wav')
  t.equal(c.outcome, 'qualified_lead')
  t.same(c.e.state.slots.name, { value: null, raw: '', display: '', source: 'clip', clip: 'name-2.wav', step: 'ask_name', at: NOW.toISOString() })
  t.equal(c.e.state.slots.callback.clip, 'callback-6.wav')
  t.equal(c.value('phone'), '+79161234567')
  t.ok(c.said.includes('Приятно познакомиться. Какую компанию вы представляете?'), 'a slot without text leaves the prompt grammatical')
  t.ok(c.said.at(-1)!.startsWith('Спасибо! Менеджер свяжется'))
  const spokenPhone = converse('en', [{ clip: 'a' }, { clip: 'b' }, { clip: 'c' }, { clip: 'd' }, { clip: 'e' }, { clip: 'phone.wav' }])
  t.equal(spokenPhone.listens.at(-1), 'ask_callback', 'a spoken number with no ASR cannot be read back, so it is not confirmed')
})

t.test('state: history, start once, languages', async (t) => {
  const c = converse('en', ['yes', 'John'])
  t.same(
    c.e.state.history.filter((h) => h.event === 'utterance').map((h) => h.text),
    ['yes', 'John'],
  )
  t.ok(c.e.state.history.some((h) => h.event === 'slot' && h.text === 'name=John'))
  t.same(c.e.start(), [], 'start() only once')
  const e = new ScenarioEngine({ scenario, language: 'ru' })
  t.same(e.onUtterance('да'), [], 'nothing before start()')
  t.throws(() => new ScenarioEngine({ scenario: { ...scenario, languages: ['ru'] }, language: 'en' }), /has no en prompts/)
})

t.test('a caller the CRM knows: slots filled before the first step, their questions skipped, greeted by name', async (t) => {
  const run = (known: Record<string, string | number>, events: string[], lang: Lang = 'ru') => {
    const e = new ScenarioEngine({ scenario, language: lang, now: () => NOW, known })
    const all = [e.start(), ...events.map((ev) => e.onUtterance(ev))].flat()
    return {
      e,
      all,
      listens: all.filter((a) => a.type === 'listen').map((a) => a.step),
      said: all.filter((a) => a.type === 'say').map((a) => a.text),
    }
  }
  await t.test('name and company known: greeting by name, then straight to the need', async (t) => {
    const r = run({ name: 'Анна Смирнова', company: 'Ромашка' }, ['да'])
    const greeting = r.all.find((a) => a.type === 'say')
    t.match(greeting, { step: 'greeting', prompt: 'promptKnown', text: /^Здравствуйте, Анна Смирнова! Рады снова/, fallback: /^Здравствуйте! Вы позвонили/ })
    t.same(r.listens, ['greeting', 'ask_need'], 'ask_name and ask_company skipped')
    t.notOk(
      r.said.some((s) => /Как вас зовут|Какую компанию/.test(s)),
      'neither question asked',
    )
    t.match(r.e.state.slots, { name: { display: 'Анна Смирнова', source: 'crm' }, company: { source: 'crm' } })
    t.ok(
      r.all.some((a) => a.type === 'saveSlot' && a.name === 'name' && a.slot.source === 'crm'),
      'the lead gets the known slots',
    )
    t.ok(r.e.state.history.some((h) => h.event === 'skip' && h.step === 'ask_name'))
  })
  await t.test('a known need and budget: those questions skipped too', async (t) => {
    const r = run({ name: 'Anna', need: 'CRM for twenty sellers', budget: 700000 }, ['yes', 'Acme Inc'], 'en')
    t.match(r.said[0], /^Hello, Anna! Good to hear/)
    t.same(r.listens, ['greeting', 'ask_company', 'ask_phone'], 'need and budget not asked')
    t.equal(r.e.state.slots.budget?.value, 700000)
  })
  await t.test('only the company known: the ordinary greeting, the name asked, the company not', async (t) => {
    const r = run({ company: 'Ромашка' }, ['да', 'меня зовут Иван'])
    t.match(
      r.all.find((a) => a.type === 'say'),
      { prompt: 'prompt', text: /^Здравствуйте! Вы позвонили/ },
    )
    t.same(r.listens, ['greeting', 'ask_name', 'ask_need'])
  })
  await t.test('nothing known (no lookup, or a slow CRM): the call runs as for a new caller', async (t) => {
    const r = run({}, ['да'])
    t.match(r.said[0], /^Здравствуйте! Вы позвонили/)
    t.same(r.listens, ['greeting', 'ask_name'])
  })
  await t.test('a slot the caller fills is asked again when its step comes back; only CRM values skip', async (t) => {
    const r = run({ name: 'Анна' }, [
      'да',
      'Ромашка',
      'нужна CRM',
      'двести тысяч',
      'восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь',
      'нет',
    ])
    t.same(r.listens, ['greeting', 'ask_company', 'ask_need', 'ask_budget', 'ask_phone', 'confirm_phone', 'ask_phone'])
  })
})
