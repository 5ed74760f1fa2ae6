// One extractor per slot type.
import { extractAmount } from './amount.ts'
import { extractCompany } from './company.ts'
import { extractDateTime } from './datetime.ts'
import { extractEmail } from './email.ts'
import { extractFreeText } from './free-text.ts'
import { extractName } from './name.ts'
import { extractDigits, extractPhone } from './phone.ts'
import type { Extractor, SlotType } from './types.ts'
import { extractYesNo } from './yesno.ts'

export const EXTRACTORS: Record<SlotType, Extractor> = {
  name: extractName,
  company: extractCompany,
  text: extractFreeText,
  amount: extractAmount,
  phone: extractPhone,
  email: extractEmail,
  datetime: extractDateTime,
  yesno: extractYesNo,
  digits: extractDigits,
}

export { SLOT_TYPES, type Extracted, type Extractor, type Lang, type SlotContext, type SlotType } from './types.ts'
export { parseCorrection, type Correction } from './correction.ts'
