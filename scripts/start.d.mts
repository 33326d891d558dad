// Types of scripts/start.mjs for the TypeScript tests (lib/__tests__/start-script.test.ts).
export const SOURCE_DIRS: string[];
export const SOURCE_FILE_PATTERN: RegExp;
export const STAMP: string;
export function sourceFiles(root: string): string[];
export function sourceHash(root: string, files?: string[]): string;
export function writeStamp(root: string, hash: string): void;
export function decide(root: string): { build: boolean; reason: string; hash: string; adopt: boolean };
export function startArgs(argv: string[], env?: Record<string, string | undefined>): string[];
export function main(root: string, argv: string[]): Promise<number>;
