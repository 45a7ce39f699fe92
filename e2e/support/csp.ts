import type { Page } from '@playwright/test';

declare global {
  interface Window {
    /** CSP violations seen by the current document (reset by every navigation). */
    __TETHER_E2E_CSP__?: string[];
    /** Reports a violation to the test process, so none is lost to a reload. */
    __tetherE2eCspViolation?: (violation: string) => Promise<void>;
  }
}

export interface CspWatch {
  /**
   * Every violation so far: `securitypolicyviolation` events as `directive blockedURI (source)`
   * and console messages mentioning "Content Security Policy", across reloads.
   */
  violations(): string[];
}

/**
 * Records Content-Security-Policy violations on `page` from now on: a `securitypolicyviolation`
 * listener injected before any page script runs (also kept on `window.__TETHER_E2E_CSP__`) and
 * Chromium's console report. Call before the first `goto`; assert `violations()` is empty at the
 * end of the flow.
 */
export async function watchCsp(page: Page): Promise<CspWatch> {
  const found: string[] = [];
  await page.exposeFunction('__tetherE2eCspViolation', (violation: string) => {
    found.push(violation);
  });
  await page.addInitScript(() => {
    window.__TETHER_E2E_CSP__ = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      const where = e.sourceFile ? ` (${e.sourceFile}:${e.lineNumber})` : '';
      const violation = `${e.violatedDirective} ${e.blockedURI || '(no URI)'}${where}`;
      window.__TETHER_E2E_CSP__?.push(violation);
      void window.__tetherE2eCspViolation?.(violation);
    });
  });
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) found.push(`console: ${message.text()}`);
  });
  return { violations: () => [...found] };
}

/** The violations the current document recorded on `window` (see watchCsp). */
export async function documentCspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => window.__TETHER_E2E_CSP__ ?? []);
}
