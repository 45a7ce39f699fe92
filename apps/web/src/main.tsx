import './strict-csp';
// Global styles first, in this order; each component imports its own after them.
import './styles/theme.css';
import './styles/controls.css';
import './styles/layout.css';
import { QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import { App } from './app';
import { AuthProvider } from './auth/auth-context';
import { initBaseUrl, routerBasename } from './lib/base-path';
import { createQueryClient } from './lib/queries';

const base = initBaseUrl(import.meta.url);
const root = document.getElementById('root');
if (!root) throw new Error('#root missing');

createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={createQueryClient()}>
      <AuthProvider>
        <BrowserRouter basename={routerBasename(base)}>
          <App />
        </BrowserRouter>
      </AuthProvider>
    </QueryClientProvider>
  </StrictMode>,
);
