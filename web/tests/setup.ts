// jsdom does not implement scrolling; the router's scrollBehavior calls it on navigation.
window.scrollTo = (() => {}) as typeof window.scrollTo
