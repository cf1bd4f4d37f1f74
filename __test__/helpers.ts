import { inject } from 'vitest'

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

/** The server every suite shares (see global-setup.mjs). */
export function databaseUrl(): string {
  return inject('databaseUrl')
}
