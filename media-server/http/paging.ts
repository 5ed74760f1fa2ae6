// One reading of ?limit and ?offset for every list of the API.

export interface PageLimits {
  /** rows when ?limit is absent, zero or not a number */
  default: number
  /** a larger ?limit is cut down to this */
  max: number
}

/** The page a request asks for: a limit in [1, max], an offset of 0 or more. */
export function pageOf(url: URL, limits: PageLimits): { limit: number; offset: number } {
  const limit = Math.trunc(Number(url.searchParams.get('limit')))
  const offset = Math.trunc(Number(url.searchParams.get('offset')))
  return {
    limit: Number.isFinite(limit) && limit >= 1 ? Math.min(limit, limits.max) : limits.default,
    offset: Number.isFinite(offset) && offset > 0 ? Math.min(offset, Number.MAX_SAFE_INTEGER) : 0,
  }
}
