/**
 * @packageDocumentation
 * The ICN node — skeleton created with the foundation; issue 8 fills it in.
 */
export const packageName = '@icn/node'
