// Imported first by main.tsx, before any module can parse with a schema: the broker's CSP has no
// 'unsafe-eval', and zod's eval probe would otherwise be reported as a violation on every load.
import { disableSchemaCompilation } from '@tether/protocol';

disableSchemaCompilation();
