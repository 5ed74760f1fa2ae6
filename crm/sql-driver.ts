/** What CallStore needs from a database: Postgres semantics behind either driver. */
export interface SqlResult<T> {
  rows: T[]
}

export interface SqlExecutor {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<SqlResult<T>>
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>
}

export interface SqlDriver extends SqlExecutor {
  /** Runs fn on one connection between BEGIN and COMMIT; rolls back when fn throws. */
  transaction<R>(fn: (tx: SqlExecutor) => Promise<R>): Promise<R>
  close(): Promise<void>
}

/** A database error carried across a thread boundary, keeping the Postgres fields callers check. */
export class SqlError extends Error {
  override readonly name = 'SqlError'
  readonly code?: string
  readonly detail?: string
  readonly hint?: string

  constructor(fields: { message: string; code?: string; detail?: string; hint?: string }) {
    super(fields.message)
    this.code = fields.code
    this.detail = fields.detail
    this.hint = fields.hint
  }
}
