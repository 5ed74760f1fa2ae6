// Self-signed certificates for TLS tests, made with openssl (Debian's, always there).
import { execFileSync } from 'node:child_process'
import path from 'node:path'

/** A self-signed certificate for `name` (CN and DNS subjectAltName) and its key, as PEM files in `dir`. */
export function makeCert(dir: string, file: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${file}.crt`)
  const key = path.join(dir, `${file}.key`)
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`]
  execFileSync('openssl', [...args, '-keyout', key, '-out', cert], { stdio: 'ignore' })
  return { cert, key }
}
