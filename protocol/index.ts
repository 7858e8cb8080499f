export * from "./telemetry.ts";
export * from "./enrollment.ts";
export * from "./errors.ts";
export * from "./headers.ts";
export * from "./messages.ts";
export * from "./version.ts";
export * from "./release.ts";
export * from "./uuid.ts";
