// A TCP proxy on 127.0.0.1 that tests put between a pool and its server, to cut the network
// in the two ways that matter:
//
// - stop(): the listener closes and every open connection is destroyed, so clients see their
//   connections end and new connects refused (a server or host that went away);
// - hang(): connections stay open and new ones are accepted, but no byte is forwarded in either
//   direction and no close is passed on, so clients see silence, never an error (a partition).
//
// resume() forwards again. A connection that lost bytes during the hang (or whose other side
// closed meanwhile) is destroyed then: TCP never drops bytes from the middle of a stream, so such
// a stream cannot honestly go on, and a partition that outlives the peers' patience ends in a
// reset (a NAT or firewall that forgot the flow answers the next packet with RST). Connections
// that were silent during the hang (idle pool connections) go on untouched.

import net from 'node:net'

interface Pair {
  client: net.Socket
  upstream: net.Socket
  /** Bytes were dropped or a close was held back during a hang: destroyed at resume(). */
  tainted: boolean
}

export class TcpProxy {
  readonly targetHost: string
  readonly targetPort: number
  /** Chosen at the first start() and kept, so that a restarted proxy has the same address. */
  port = 0
  #server: net.Server | null = null
  #pairs = new Set<Pair>()
  #hung = false

  constructor(target: { host: string; port: number }) {
    this.targetHost = target.host
    this.targetPort = target.port
  }

  /** A proxy to the host and port of a postgres URL. */
  static to(targetUrl: string): TcpProxy {
    const url = new URL(targetUrl)
    return new TcpProxy({ host: url.hostname, port: Number(url.port || 5432) })
  }

  /** Listens (on a free port the first time, on the same port afterwards). */
  async start(): Promise<void> {
    if (this.#server) return
    const server = net.createServer((client) => this.#accept(client))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject).listen(this.port, '127.0.0.1', () => resolve())
    })
    this.port = (server.address() as net.AddressInfo).port
    this.#server = server
  }

  /** Closes the listener and destroys every connection: new connects are refused. */
  async stop(): Promise<void> {
    const server = this.#server
    this.#server = null
    for (const pair of this.#pairs) this.#destroy(pair)
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  /** Stops forwarding: bytes are dropped and closes held back, so peers see only silence. */
  hang(): void {
    this.#hung = true
  }

  /** Forwards again; connections that lost bytes or a close during the hang are destroyed. */
  resume(): void {
    this.#hung = false
    for (const pair of this.#pairs) if (pair.tainted) this.#destroy(pair)
  }

  get hung(): boolean {
    return this.#hung
  }

  /** Connections open through the proxy. */
  get connections(): number {
    return this.#pairs.size
  }

  /** `targetUrl` with its host and port replaced by the proxy's (call after start()). */
  url(targetUrl: string): string {
    if (this.port === 0) throw new Error('start the proxy before asking for its URL')
    const url = new URL(targetUrl)
    url.hostname = '127.0.0.1'
    url.port = String(this.port)
    return url.href
  }

  async close(): Promise<void> {
    this.#hung = false
    await this.stop()
  }

  #accept(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, this.targetHost)
    const pair: Pair = { client, upstream, tainted: false }
    this.#pairs.add(pair)
    this.#forward(pair, client, upstream)
    this.#forward(pair, upstream, client)
  }

  #forward(pair: Pair, from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (this.#hung) {
        pair.tainted = true
        return
      }
      // Backpressure: a slow reader slows the writer down instead of filling memory.
      if (!to.write(chunk)) {
        from.pause()
        to.once('drain', () => from.resume())
      }
    })
    // Errors end the pair through 'close'; without a listener they would be thrown.
    from.on('error', () => {})
    from.on('close', () => {
      if (pair.client.destroyed && pair.upstream.destroyed) {
        this.#pairs.delete(pair)
      } else if (this.#hung) {
        pair.tainted = true
      } else {
        // end() rather than destroy(): what was already written still reaches the peer
        // (a server's FATAL message before it closes, for example).
        to.end()
      }
    })
  }

  #destroy(pair: Pair): void {
    pair.client.destroy()
    pair.upstream.destroy()
    this.#pairs.delete(pair)
  }
}
