/** Opens the socket and wires its events to the handlers. */
export function openWatch(WebSocketImpl, url, headers, handlers) {
    const socket = (Object.keys(headers).length > 0 ? new WebSocketImpl(url, [], { headers }) : new WebSocketImpl(url));
    let opened = false;
    const ready = new Promise((resolve, reject) => {
        socket.onopen = () => {
            opened = true;
            resolve();
        };
        socket.onclose = (event) => {
            if (!opened)
                reject(new Error(`WebSocket ${url} could not be opened (close code ${event.code})`));
            handlers.onClose?.(event.code, event.reason);
        };
    });
    // A caller that never looks at `ready` must not get an unhandled rejection.
    ready.catch(() => undefined);
    // Errors are followed by a close event, which reports them.
    socket.onerror = () => undefined;
    socket.onmessage = (event) => {
        if (typeof event.data !== "string")
            return; // confab sends text frames only
        handlers.onFrame(JSON.parse(event.data));
    };
    return { ready, close: () => socket.close(1000) };
}
