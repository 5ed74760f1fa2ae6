/**
 * The Redis key names, all under one prefix (REDIS_KEY_PREFIX, `voice:` by default), so that
 * several deployments (or test runs) share one Redis without meeting.
 */
export class ClusterKeys {
  constructor(readonly prefix: string) {}

  /** set of instance ids that ever wrote a record; members whose record expired are pruned by readers */
  get instances(): string {
    return `${this.prefix}instances`
  }

  /** hash: the instance's record (InstanceRecord), with the lease as its TTL */
  instance(id: string): string {
    return `${this.prefix}instance:${id}`
  }

  /** hash: call id -> JSON of the instance's live call, with the lease as its TTL */
  calls(id: string): string {
    return `${this.prefix}calls:${id}`
  }

  /** Prefixes the admission script builds its own keys from (slots:<id>, slot-src:<id>, slot-holders). */
  get slotsPrefix(): string {
    return this.prefix
  }

  /** hash: call id -> source address ('' for a trusted source) of each slot the instance holds */
  slots(id: string): string {
    return `${this.prefix}slots:${id}`
  }

  /** hash: source address -> slots the instance holds for it */
  slotSources(id: string): string {
    return `${this.prefix}slot-src:${id}`
  }

  /** The keys of a trunk's channel slots (a CallSlots of its own per trunk). */
  trunkChannels(trunk: string): ClusterKeys {
    return new ClusterKeys(`${this.prefix}dial:${trunk}:`)
  }

  /** The keys of a campaign's concurrent calls (a CallSlots of its own per campaign). */
  campaignCalls(campaignId: string): ClusterKeys {
    return new ClusterKeys(`${this.prefix}campaign:${campaignId}:`)
  }

  /** sorted set: outbound calls started in the last hour, over all trunks (OUTBOUND_MAX_CALLS_PER_HOUR) */
  get dialHour(): string {
    return `${this.prefix}dial-hour`
  }

  /** sorted set: calls started through the trunk in the last second (its cps) */
  dialSecond(trunk: string): string {
    return `${this.prefix}dial-cps:${trunk}`
  }

  /** string: a banned source (value: the instance that banned it), with the ban as its TTL */
  ban(address: string): string {
    return `${this.prefix}ban:${address}`
  }

  get banPattern(): string {
    return `${this.prefix}ban:*`
  }

  /** pub/sub channel of new bans */
  get banChannel(): string {
    return `${this.prefix}bans`
  }
}
