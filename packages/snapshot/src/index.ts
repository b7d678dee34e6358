/**
 * @packageDocumentation
 * @icn/snapshot — skeleton created with the foundation; its issue fills it in.
 */
export const packageName = '@icn/snapshot'
