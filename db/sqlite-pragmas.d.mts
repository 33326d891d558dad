export const SERVER_PRAGMAS: readonly string[];
export function applyServerPragmas(db: { pragma(source: string): unknown }): void;
