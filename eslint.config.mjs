// ESLint (flat config): Next's rules (React, hooks, a11y, core web vitals) and typescript-eslint.
// A step of `npm test`.
import { defineConfig, globalIgnores } from "eslint/config";
import nextVitals from "eslint-config-next/core-web-vitals";
import nextTypescript from "eslint-config-next/typescript";

export default defineConfig([
  ...nextVitals,
  ...nextTypescript,
  {
    rules: {
      // Tests and wire code read untyped JSON answers; `any` there is deliberate and local.
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // Playwright's fixtures call `use(...)`: not React, whatever the name says.
    files: ["e2e/**"],
    rules: { "react-hooks/rules-of-hooks": "off" },
  },
  globalIgnores([".next/**", "node_modules/**", "sdk-python/**", "test-results/**", "playwright-report/**", "data/**", "next-env.d.ts", "bench/results/**"]),
]);
