/**
 * @packageDocumentation
 * @icn/governance — skeleton created with the foundation; its issue fills it in.
 */
export const packageName = '@icn/governance'
