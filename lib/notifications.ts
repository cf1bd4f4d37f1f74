// What the server sends on its own: notices and LISTEN/NOTIFY notifications, delivered to the
// `onNotice` / `onNotification` callbacks and to `notifications()` iterators.
//
// The engine hands them over through ThreadsafeFunctions, so they arrive as event-loop tasks:
// for an AsyncConnection as they are read (also while the connection is idle, when someone
// listens), for a sync Connection once the JS thread is free again after the blocking call
// during which they arrived. A callback that throws is reported as a process warning and
// swallowed: it can never crash the process.

import { OperationalError, type ServerErrorFields } from './errors'
import type { NativeConnection, NativeNotification } from './native'
import { callSafely } from './user-code'

/** A notice from the server (`RAISE NOTICE`, a WARNING...): the fields of an error report. */
export interface Notice extends ServerErrorFields {
  message: string
  /** NOTICE, WARNING, INFO, LOG, DEBUG. */
  severity: string
  sqlstate: string
  /** The SQLSTATE again, under the name pg uses. */
  code: string
}

/** A `NOTIFY channel, 'payload'`, sent by the backend `processId`. */
export interface Notification {
  channel: string
  payload: string
  processId: number
}

interface NativeNoticeRecord {
  message: string
  severity: string
  sqlstate: string
  fields: Record<string, string>
}

/** Sends the connection's notices to `onNotice`; without it the engine drops them. */
export function deliverNotices(native: NativeConnection, onNotice: ((notice: Notice) => unknown) | undefined): void {
  if (onNotice === undefined) return
  native.setNoticeHandler((json: string) => {
    let record: NativeNoticeRecord
    try {
      record = JSON.parse(json) as NativeNoticeRecord
    } catch {
      return
    }
    const notice: Notice = {
      ...record.fields,
      message: record.message,
      severity: record.severity,
      sqlstate: record.sqlstate,
      code: record.sqlstate,
    }
    callSafely('the onNotice callback', onNotice, notice)
  })
}

/**
 * Fans the connection's notifications out to the `onNotification` callback and the open
 * `notifications()` iterators. The engine listens (reads while idle, keeps Node alive) only
 * while at least one of them exists.
 */
export class NotificationFanOut {
  private readonly streams = new Set<NotificationStream>()
  /** Tells a current registration from a replaced one whose last calls are still queued. */
  private registration = 0
  private listening = false

  constructor(
    private readonly native: NativeConnection,
    private readonly onNotification: ((notification: Notification) => unknown) | undefined,
  ) {
    this.update()
  }

  /** A new iterator over the notifications that arrive from now on. */
  iterate(): AsyncIterableIterator<Notification> {
    const stream = new NotificationStream(() => {
      this.streams.delete(stream)
      this.update()
    })
    if (this.native.closed || this.native.broken) {
      stream.end(this.native.broken ? lostWhileListening() : undefined)
      return stream
    }
    this.streams.add(stream)
    this.update()
    return stream
  }

  /** The connection was closed: the iterators finish, and the engine lets go. */
  closed(): void {
    this.endStreams(undefined)
    this.listening = false
  }

  private update(): void {
    // Asks the engine (a call across the boundary) only when there is someone to deliver to.
    const wanted = (this.onNotification !== undefined || this.streams.size > 0) && !this.native.closed
    if (wanted === this.listening) return
    this.listening = wanted
    const registration = ++this.registration
    this.native.setNotificationHandler(
      wanted ? (notification) => this.deliver(registration, notification ?? null) : null,
    )
  }

  private deliver(registration: number, native: NativeNotification | null): void {
    if (registration !== this.registration) return
    if (native === null) {
      // The connection ended under us: closed (the iterators finish) or lost (they throw).
      this.listening = false
      this.endStreams(this.native.broken ? lostWhileListening() : undefined)
      return
    }
    const notification: Notification = {
      channel: native.channel,
      payload: native.payload,
      processId: native.processId,
    }
    for (const stream of this.streams) stream.push(notification)
    if (this.onNotification !== undefined) callSafely('the onNotification callback', this.onNotification, notification)
  }

  private endStreams(failure: unknown): void {
    const streams = [...this.streams]
    this.streams.clear()
    for (const stream of streams) stream.end(failure)
  }
}

function lostWhileListening(): OperationalError {
  return new OperationalError('the connection was lost while listening for notifications')
}

/** An async iterator over notifications: buffered until read, finished by `return()` (a `break`). */
class NotificationStream implements AsyncIterableIterator<Notification> {
  private readonly buffered: Notification[] = []
  private readonly readers: { resolve(result: IteratorResult<Notification>): void; reject(error: unknown): void }[] = []
  private finished = false
  private failure: unknown

  constructor(private readonly onReturn: () => void) {}

  push(notification: Notification): void {
    const reader = this.readers.shift()
    if (reader) reader.resolve({ value: notification, done: false })
    else this.buffered.push(notification)
  }

  end(failure: unknown): void {
    if (this.finished) return
    this.finished = true
    this.failure = failure
    for (const reader of this.readers.splice(0)) this.settle(reader)
  }

  next(): Promise<IteratorResult<Notification>> {
    const notification = this.buffered.shift()
    if (notification !== undefined) return Promise.resolve({ value: notification, done: false })
    return new Promise((resolve, reject) => {
      if (this.finished) this.settle({ resolve, reject })
      else this.readers.push({ resolve, reject })
    })
  }

  return(): Promise<IteratorResult<Notification>> {
    this.end(undefined)
    this.onReturn()
    return Promise.resolve({ value: undefined, done: true })
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Notification> {
    return this
  }

  /** A lost connection is thrown once; after that the iterator is simply done. */
  private settle(reader: { resolve(result: IteratorResult<Notification>): void; reject(error: unknown): void }): void {
    if (this.failure !== undefined) {
      const failure = this.failure
      this.failure = undefined
      reader.reject(failure)
    } else {
      reader.resolve({ value: undefined, done: true })
    }
  }
}
