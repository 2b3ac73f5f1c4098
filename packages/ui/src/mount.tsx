import { StrictMode, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { SessionProvider } from './session.tsx';

/** Renders a page into the server's shell (`<div id="root">`), inside the session provider. */
export function mount(page: ReactNode): void {
  const root = document.getElementById('root');
  if (root === null) throw new Error('The page has no #root element');
  createRoot(root).render(
    <StrictMode>
      <SessionProvider>{page}</SessionProvider>
    </StrictMode>,
  );
}
