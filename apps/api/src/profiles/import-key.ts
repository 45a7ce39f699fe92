import { type SQL, sql } from 'drizzle-orm';
import { connectionProfiles } from '../db/schema/index.js';

/**
 * VelociTerm's deterministic session identity: `display_name:host:port:folder_name`, with an
 * empty folder name for profiles in no folder. Stored in `import_key` (unique per user), so an
 * import of an entry that already exists updates it instead of adding a duplicate.
 */
export function importKey(name: string, host: string, port: number, folderName: string | null): string {
  return `${name}:${host}:${port}:${folderName ?? ''}`;
}

/** The same key computed by the database for every row of a folder being renamed. */
export function importKeySql(folderName: string): SQL {
  const p = connectionProfiles;
  return sql`${p.name} || ':' || ${p.host} || ':' || ${p.port}::text || ':' || ${folderName}::text`;
}
