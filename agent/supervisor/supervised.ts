/**
 * The one fact supervisor and node program share at start-up: the environment flag that tells
 * the program it runs under a supervisor. Its own module so the supervisor doesn't load the
 * whole node program just to read a constant (that cost ~20 MB of idle memory).
 */
export const SUPERVISED_ENV = "BUHDI_NODE_SUPERVISED";
