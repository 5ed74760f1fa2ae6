/**
 * Frame-level voice activity by energy, with an adaptive noise floor: a frame is speech
 * when it is both above an absolute level and well above the floor. The Silero model
 * replaces this in a later issue; the endpointer does not care which detector feeds it.
 */
export class EnergyDetector {
  private noiseFloorDb = -60

  constructor(
    private readonly minLevelDb = -42,
    private readonly aboveFloorDb = 12,
  ) {}

  /** dBFS of one frame of 16-bit PCM. */
  static levelDb(pcm: Int16Array): number {
    let sum = 0
    for (let i = 0; i < pcm.length; i++) sum += pcm[i] * pcm[i]
    const rms = Math.sqrt(sum / Math.max(1, pcm.length))
    return rms > 0 ? 20 * Math.log10(rms / 32768) : -120
  }

  isSpeech(pcm: Int16Array): boolean {
    const db = EnergyDetector.levelDb(pcm)
    const speech = db > this.minLevelDb && db > this.noiseFloorDb + this.aboveFloorDb
    // The floor falls fast and rises slowly, so speech does not pull it up.
    if (db < this.noiseFloorDb) this.noiseFloorDb = db
    else if (!speech) this.noiseFloorDb += 0.05 * (db - this.noiseFloorDb)
    return speech
  }
}
