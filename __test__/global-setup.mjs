// Gives every suite a server: DATABASE_URL when set, otherwise a throwaway one for this run.
import { ensureDatabase } from '../scripts/pg-server.mjs'

export default async function setup(project) {
  const database = await ensureDatabase({ log: (message) => console.error(`[pg-server] ${message}`) })
  project.provide('databaseUrl', database.url)
  return () => database.stop()
}
