/** Header names shared by agent and cloud. */
export const NODE_KEY_HEADER = "x-node-key";
