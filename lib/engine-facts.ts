// Facts the engine owns, asked of it once when the package loads (src/facts.rs), so that the
// TypeScript side keeps no copy of them: the connection options' defaults and bounds, the types
// the engine asks for in binary, the optional fields of a server report.

import { binding } from './native'

export const ENGINE_FACTS = Object.freeze(binding.engineFacts())
