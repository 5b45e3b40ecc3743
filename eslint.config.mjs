// ESLint's flat config: its recommended rules over the page's scripts (browser globals) and their unit tests (Node's).
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["web/js/**/*.js"],
    languageOptions: { sourceType: "module", globals: globals.browser },
  },
  {
    // A classic script, run as the page is parsed (see its docstring), not a module.
    files: ["web/js/theme-boot.js"],
    languageOptions: { sourceType: "script" },
  },
  {
    // Injected into the page by bench/page.py, before the page's own scripts: a classic script too.
    files: ["bench/page_probe.js"],
    languageOptions: { sourceType: "script", globals: globals.browser },
  },
  {
    files: ["tests/js/**/*.mjs", "eslint.config.mjs"],
    languageOptions: { sourceType: "module", globals: globals.node },
  },
];
