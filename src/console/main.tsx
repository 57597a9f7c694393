import { QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app.js";
import { keyFilters, keysListQuery } from "./pages/keys.js";
import { queryClient, trpc } from "./trpc.js";
import "./styles.css";

// The first page's data is asked for with who is signed in, in the same request, not after it.
void queryClient.prefetchQuery(trpc.me.queryOptions());
if (window.location.pathname === "/" || window.location.pathname === "/keys") {
  void queryClient.prefetchQuery(keysListQuery(keyFilters(new URLSearchParams(window.location.search))));
}

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <App />
      </QueryClientProvider>
    </StrictMode>,
  );
}
