/**
 * Size limits of the live channel, apart from the schemas: the agent's socket code imports them
 * without loading zod (the bench's bare WebSocket baseline must stay a bare socket).
 */

/** A frame bigger than this is not one of ours: the socket is closed with 1009 (either side). */
export const MAX_FRAME_BYTES = 16 * 1024;
