/** Password policy (OWASP ASVS): long passphrases allowed, never truncated. */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 1024;
export const USERNAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/;

/** Terminal geometry accepted by the broker; anything outside is a protocol error. */
export const TERMINAL_MIN_COLS = 1;
export const TERMINAL_MAX_COLS = 1000;
export const TERMINAL_MIN_ROWS = 1;
export const TERMINAL_MAX_ROWS = 500;

/** Scrollback a user may ask xterm.js for (lines); the broker's mirror keeps up to its own cap. */
export const SCROLLBACK_MAX = 100_000;

/** Default inbound WebSocket frame limit; servers advertise their own in `authenticated`. */
export const DEFAULT_MESSAGE_SIZE_LIMIT = 64 * 1024;
