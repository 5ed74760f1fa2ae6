import t from 'tap'
import { digitFromInfo } from './dtmf-relay.ts'

t.equal(digitFromInfo('application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n'), '5')
t.equal(digitFromInfo('application/dtmf-relay', 'Signal= #\r\nDuration=100'), '#')
t.equal(digitFromInfo('Application/DTMF-Relay; charset=x', 'signal=11\r\n'), '#', 'event number 11 is #')
t.equal(digitFromInfo('application/dtmf', '*'), '*')
t.equal(digitFromInfo('application/dtmf-relay', 'Duration=160'), null, 'no Signal line')
t.equal(digitFromInfo('application/dtmf-relay', 'Signal=X'), null, 'not a DTMF symbol')
t.equal(digitFromInfo('text/plain', 'Signal=5'), null, 'other content types are ignored')
