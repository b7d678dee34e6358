// Injected for the free `setImmediate`/`clearImmediate` of the browser build, which browsers lack.
export const setImmediate = (callback: () => void): ReturnType<typeof setTimeout> => setTimeout(callback, 0)
export const clearImmediate = (handle: ReturnType<typeof setTimeout>): void => { clearTimeout(handle) }
