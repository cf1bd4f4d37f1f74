// Certificates for TLS tests, made with the openssl command line: a test CA, server
// certificates signed by it, a client certificate, and a second CA nobody should trust.

import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

export interface Certificates {
  /** PEM file paths. */
  caFile: string
  otherCaFile: string
  clientCertFile: string
  clientKeyFile: string
  /** PEM contents, for the servers' data folders. */
  ca: string
  /** For DNS name `localhost` only (not 127.0.0.1), signed with SHA-256. */
  server: { cert: string, key: string }
  /** The same name, signed with SHA-384 (SCRAM channel binding then hashes with SHA-384). */
  serverSha384: { cert: string, key: string }
}

const openssl = (dir: string, ...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

function makeCa(dir: string, name: string) {
  openssl(dir, 'req', '-x509', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2',
    '-subj', `/CN=pgtide test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
}

/** A key and a certificate for `subject`, signed by the CA `ca` with `digest`. */
function makeSigned(dir: string, name: string, ca: string, subject: string, extensions: string, digest: string) {
  openssl(dir, 'req', '-new', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject)
  fs.writeFileSync(path.join(dir, `${name}.ext`), extensions)
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', `-${digest}`, '-extfile', `${name}.ext`)
  const read = (ext: string) => fs.readFileSync(path.join(dir, `${name}.${ext}`), 'utf8')
  return { cert: read('crt'), key: read('key') }
}

export function makeCertificates(dir: string): Certificates {
  makeCa(dir, 'ca')
  makeCa(dir, 'other-ca')
  const serverExtensions = 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n'
  const server = makeSigned(dir, 'server', 'ca', '/CN=localhost', serverExtensions, 'sha256')
  const serverSha384 = makeSigned(dir, 'server384', 'ca', '/CN=localhost', serverExtensions, 'sha384')
  makeSigned(dir, 'client', 'ca', '/CN=cert_user', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n', 'sha256')
  return {
    caFile: path.join(dir, 'ca.crt'),
    otherCaFile: path.join(dir, 'other-ca.crt'),
    clientCertFile: path.join(dir, 'client.crt'),
    clientKeyFile: path.join(dir, 'client.key'),
    ca: fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8'),
    server,
    serverSha384,
  }
}
