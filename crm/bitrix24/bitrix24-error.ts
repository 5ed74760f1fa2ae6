/** Bitrix24's error body: `{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}`. */
export class Bitrix24Error extends Error {
  override readonly name = 'Bitrix24Error'
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    readonly method: string,
    /** the portal said when to come back (OPERATION_TIME_LIMIT's operating_reset_at) */
    readonly retryAfterMs?: number,
  ) {
    super(`${method}: HTTP ${status} ${code}${description ? `: ${description}` : ''}`)
  }
}
