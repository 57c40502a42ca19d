import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a local-api on :8000, so the cookies stay same-origin.
const api = process.env.WRITERS_API ?? "http://127.0.0.1:8000";
const proxied = ["/api", "/auth", "/admin", "/docs", "/openapi.json", "/health"];

export default defineConfig({
  plugins: [react()],
  build: {
    target: "es2022",
    // No inline modulepreload polyfill: the CSP admits no inline script.
    modulePreload: { polyfill: false },
    sourcemap: false,
    assetsInlineLimit: 0,
  },
  server: {
    proxy: Object.fromEntries(proxied.map((path) => [path, { target: api, changeOrigin: false }])),
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
