/**
 * What the transport logs through: structured fields, then a message. A pino logger fits as is;
 * `silentLogger` is the default.
 */
export interface TransportLogger {
  debug(fields: object, message: string): void
  info(fields: object, message: string): void
  warn(fields: object, message: string): void
}

/** Logs nothing. */
export const silentLogger: TransportLogger = { debug: () => {}, info: () => {}, warn: () => {} }
