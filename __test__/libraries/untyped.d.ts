// Packages whose types this project's TypeScript settings (CommonJS, node10 resolution) cannot
// see: connect-pg-simple and express-session ship none (@types would be devDependencies for
// nothing else), node-pg-migrate declares its types only under package.json `exports`.
declare module 'connect-pg-simple'
declare module 'express-session'
declare module 'node-pg-migrate'
