// AES in counter mode as SRTP uses it (RFC 3711 §4.1.1): the 128-bit IV is the counter's first
// block and the low 16 bits count the blocks, which is what OpenSSL's aes-128-ctr does.
import { createCipheriv } from 'node:crypto'

/** XORs `data` in place with the AES-CM keystream of `key` from `iv`. */
export function aesCmXor(key: Buffer, iv: Buffer, data: Buffer): void {
  if (data.length === 0) return
  const out = createCipheriv('aes-128-ctr', key, iv).update(data)
  out.copy(data)
}

/** `n` bytes of the keystream itself (the key derivation's PRF, and the RFC's test vectors). */
export function aesCmKeystream(key: Buffer, iv: Buffer, n: number): Buffer {
  return createCipheriv('aes-128-ctr', key, iv).update(Buffer.alloc(n))
}
