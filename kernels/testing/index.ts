/** Shared kernel testing kit: layouts, seeded inputs, precision bounds and the suite every backend runs. */
export * from "./layouts";
export * from "./precision";
export * from "./random";
export * from "./suite";
export * from "./reference-backend";
