import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter } from "react-router";
import { ApiError } from "./api/client";
import { App } from "./App";
import { FIRST_PAGE, boardQuery } from "./pages/Board";
import { signedInBefore } from "./session";
import "./styles.css";

const queries = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      // An answer the API gave (404, 403) is final; only a lost connection or a 5xx is retried.
      retry: (failures, error) => failures < 2 && (!(error instanceof ApiError) || error.status === 0 || error.status >= 500),
    },
  },
});

// A signed-in writer opening the board: its tasks are asked for with `GET /auth/me`, not after it.
if (location.pathname === "/" && !location.search && signedInBefore()) {
  void queries.prefetchQuery(boardQuery(FIRST_PAGE));
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queries}>
      <BrowserRouter>
        <App />
      </BrowserRouter>
    </QueryClientProvider>
  </StrictMode>,
);
